//! Output-length formulas and folds for every pad form, padding mode, and the phases
//! of strided and dilated windows, worked out by hand (see the README's "Language
//! reference" and "What is derived"): `out = floor((len + lo + hi - D*(K-1) - 1) / S) + 1`, padded position
//! `q_k = l*S + k*D`, and a tap k reaches q_k when `k*D ≡ q_k (mod S)`. Input position
//! p_k is at padded position `q_k = p_k + pad_lo`, and for modes other than zeros also
//! at the border positions that copy it.

mod common;

use common::{derivation, extents, gradients};

/// conv1d over `l` with the given unfold options.
fn conv1d(options: &str) -> String {
    format!("c(x, w) = \"nclk,dck->ndl\" {{ unfold x.l by k{options}; }}")
}

/// The output-length formula of `l` and the fold line of x.
fn extent_and_fold(options: &str) -> (String, String) {
    let source = conv1d(options);
    let extent = extents(&source)[2].clone();
    let fold = gradients(&source)[1].clone();
    (extent, fold)
}

fn fold(taps: &str, copies: &str) -> String {
    format!("  fold x.l by k: position p_k gathers {taps}, {copies}, 0 <= l < len(l)")
}

#[test]
fn stride_2_with_an_integer_pad() {
    assert_eq!(
        extent_and_fold(", stride = 2, pad = 1"),
        (
            "l = floor((x.l + 2 - (k - 1) - 1) / 2) + 1".into(),
            fold("l = (q_k - k) / 2 for k ≡ q_k (mod 2)", "q_k = p_k + 1")
        )
    );
}

#[test]
fn stride_2_with_a_pad_pair() {
    // Only pad_lo shifts positions; both pads lengthen the output.
    assert_eq!(
        extent_and_fold(", stride = 2, pad = (1, 2)"),
        (
            "l = floor((x.l + 3 - (k - 1) - 1) / 2) + 1".into(),
            fold("l = (q_k - k) / 2 for k ≡ q_k (mod 2)", "q_k = p_k + 1")
        )
    );
}

#[test]
fn stride_2_valid() {
    assert_eq!(
        extent_and_fold(", stride = 2, pad = valid"),
        (
            "l = floor((x.l - (k - 1) - 1) / 2) + 1".into(),
            fold("l = (q_k - k) / 2 for k ≡ q_k (mod 2)", "q_k = p_k")
        )
    );
}

#[test]
fn stride_2_same() {
    // out = ceil(len / 2); total pad = (out - 1)*2 + (k - 1) + 1 - len, at least 0.
    assert_eq!(
        extent_and_fold(", stride = 2, pad = same"),
        (
            "l = ceil(x.l / 2)".into(),
            fold(
                "l = (q_k - k) / 2 for k ≡ q_k (mod 2)",
                "q_k = p_k + pad_lo(x.l)"
            )
        )
    );
    let text = derivation(&conv1d(", stride = 2, pad = same"));
    assert!(
        text.contains(
            "  unfold x.l by k, stride 2, dilation 1, pad same, zeros\n    \
             pad(x.l) = max(0, (ceil(x.l / 2) - 1)*2 + (k - 1) + 1 - x.l), \
             pad_lo(x.l) = floor(pad(x.l) / 2), pad_hi(x.l) = pad(x.l) - pad_lo(x.l)\n"
        ),
        "{text}"
    );
}

#[test]
fn stride_1_same() {
    // With stride 1 the total pad is D*(K-1) whatever the length.
    assert_eq!(
        extent_and_fold(", pad = same, dilation = 3"),
        (
            "l = x.l".into(),
            fold("l = q_k - k*3 for every k", "q_k = p_k + pad_lo(x.l)")
        )
    );
    let text = derivation(&conv1d(", pad = same, dilation = 3"));
    let line =
        "    pad(x.l) = 3*(k - 1), pad_lo(x.l) = floor(pad(x.l) / 2), pad_hi(x.l) = pad(x.l) - pad_lo(x.l)\n";
    assert!(text.contains(line), "{text}");
}

#[test]
fn explicit_pads_have_no_same_line() {
    assert!(!derivation(&conv1d(", pad = 1")).contains("pad_lo"));
}

#[test]
fn stride_and_dilation_phases() {
    // (stride, dilation, taps that reach padded position q_k), from q_k = S*l + D*k:
    let cases = [
        // gcd 2 divides q_k, then l = q_k/2 - k for any k.
        (2, 2, "l = (q_k - k*2) / 2 for every k if q_k ≡ 0 (mod 2)"),
        // 2k ≡ q_k (mod 3) ⟺ k ≡ 2*q_k (mod 3), as 2*2 ≡ 1.
        (3, 2, "l = (q_k - k*2) / 3 for k ≡ 2*q_k (mod 3)"),
        // q_k even, then 2l + k = q_k/2: k ≡ q_k/2 (mod 2).
        (
            4,
            2,
            "l = (q_k - k*2) / 4 for k ≡ (q_k / 2) (mod 2) if q_k ≡ 0 (mod 2)",
        ),
        // q_k even, then 3l + 2k = q_k/2: k ≡ 2*(q_k/2) (mod 3).
        (
            6,
            4,
            "l = (q_k - k*4) / 6 for k ≡ 2*(q_k / 2) (mod 3) if q_k ≡ 0 (mod 2)",
        ),
        // 5l + 3k = q_k: 3k ≡ q_k (mod 5) ⟺ k ≡ 2*q_k (mod 5), as 3*2 ≡ 1.
        (5, 3, "l = (q_k - k*3) / 5 for k ≡ 2*q_k (mod 5)"),
        // Dilation a multiple of the stride: q_k ≡ 0 (mod 3), every k.
        (3, 6, "l = (q_k - k*6) / 3 for every k if q_k ≡ 0 (mod 3)"),
    ];
    for (stride, dilation, taps) in cases {
        let (_, line) = extent_and_fold(&format!(", stride = {stride}, dilation = {dilation}"));
        assert_eq!(
            line,
            fold(taps, "q_k = p_k"),
            "stride {stride} dilation {dilation}"
        );
    }
}

#[test]
fn padding_modes() {
    // Pad (2, 3) over an input of length L = x.l. Reflect: q < 2 holds p = 2 - q, and
    // q >= L + 2 holds p = 2(L - 1) - (q - 2), which exists for L - 4 <= p <= L - 2.
    // Replicate: the left border copies p = 0, the right p = L - 1. Circular: q holds
    // (q - 2) mod L.
    let cases = [
        ("zeros", "q_k = p_k + 2"),
        (
            "reflect",
            "q_k = p_k + 2 or q_k = 2 - p_k (1 <= p_k <= 2) \
             or q_k = 2*x.l - p_k (x.l - 4 <= p_k <= x.l - 2)",
        ),
        (
            "replicate",
            "q_k = p_k + 2 or 0 <= q_k < 2 (p_k = 0) or x.l + 2 <= q_k < x.l + 5 (p_k = x.l - 1)",
        ),
        (
            "circular",
            "q_k = p_k + 2 or q_k = p_k - x.l + 2 (p_k >= x.l - 2) or q_k = p_k + x.l + 2 (p_k < 3)",
        ),
    ];
    for (mode, copies) in cases {
        let (extent, line) = extent_and_fold(&format!(", pad = (2, 3), mode = {mode}"));
        assert_eq!(extent, "l = x.l + 5 - (k - 1)", "{mode}");
        assert_eq!(line, fold("l = q_k - k for every k", copies), "{mode}");
    }
}

#[test]
fn padding_modes_with_a_fixed_length_and_one_sided_pads() {
    // L = 4 and pad (0, 2): no left border.
    let cases = [
        ("reflect", "q_k = p_k or q_k = 6 - p_k (1 <= p_k <= 2)"),
        ("replicate", "q_k = p_k or 4 <= q_k < 6 (p_k = 3)"),
        ("circular", "q_k = p_k or q_k = p_k + 4 (p_k < 2)"),
    ];
    for (mode, copies) in cases {
        let (extent, line) = extent_and_fold(&format!(", pad = (0, 2), mode = {mode}; size l = 4"));
        assert_eq!(extent, "l = 4 + 2 - (k - 1)", "{mode}");
        assert_eq!(line, fold("l = q_k - k for every k", copies), "{mode}");
    }
}

#[test]
fn reflect_with_same_padding() {
    let (_, line) = extent_and_fold(", pad = same, mode = reflect");
    assert_eq!(
        line,
        fold(
            "l = q_k - k for every k",
            "q_k = p_k + pad_lo(x.l) or q_k = pad_lo(x.l) - p_k (1 <= p_k <= pad_lo(x.l)) \
             or q_k = pad_lo(x.l) + 2*x.l - 2 - p_k (x.l - pad_hi(x.l) - 1 <= p_k <= x.l - 2)"
        )
    );
}

#[test]
fn unfold_line_of_every_mode() {
    for mode in ["zeros", "reflect", "replicate", "circular"] {
        let text = derivation(&conv1d(&format!(
            ", stride = 3, dilation = 2, pad = (1, 0), mode = {mode}"
        )));
        let line = format!("  unfold x.l by k, stride 3, dilation 2, pad (1, 0), {mode}\n");
        assert!(text.contains(&line), "{text}");
    }
}

#[test]
fn fixed_sizes_appear_in_the_formulas() {
    let source = r#"c(x, w) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 2, dilation = 2, pad = 1;
        size l = 9, k = 3, c = 4;
    }"#;
    assert_eq!(
        extents(source),
        [
            "n = x.n",
            "d = w.d",
            "l = floor((9 + 2 - 2*(3 - 1) - 1) / 2) + 1",
            "summed c = 4 (size)",
            "summed k = 3 (size)",
        ]
    );
}

#[test]
fn huge_pads_do_not_overflow_the_text() {
    // 2^64 - 1 twice: the sum does not fit in 64 bits, the text must still be written.
    let source = conv1d(", pad = (18446744073709551615, 18446744073709551615)");
    assert_eq!(
        extents(&source)[2],
        "l = x.l + 36893488147419103230 - (k - 1)"
    );
}
