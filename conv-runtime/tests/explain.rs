//! The `conv-explain` binary, run as a user runs it.

use std::process::{Command, Output};

fn explain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conv-explain"))
        .args(args)
        .output()
        .expect("conv-explain runs")
}

/// Runs the tool on `text`; returns (exit code, stdout, stderr).
fn run(text: &str) -> (i32, String, String) {
    let output = explain(&[text]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    (output.status.code().expect("exited"), stdout, stderr)
}

fn assert_lines(out: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            out.lines().any(|l| l.trim() == *line),
            "missing line `{line}` in:\n{out}"
        );
    }
}

const TUTORIAL: &str = r#"k(x, weight) = "nchwkj,dckj->ndhw" {
    unfold x.h by k, stride = 2, pad = 2;
    unfold x.w by j, stride = 2, pad = 2;
    bias d;
}"#;

#[test]
fn tutorial_kernel_shows_shapes_and_every_gradient() {
    let (code, out, err) = run(TUTORIAL);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_lines(
        &out,
        &[
            "kernel k(x, weight) = \"nchwkj,dckj->ndhw\"",
            "operand x: [n, c, h, w]",
            "unfold x.h by k, stride 2, dilation 1, pad (2, 2), zeros",
            "unfold x.w by j, stride 2, dilation 1, pad (2, 2), zeros",
            "operand weight: [d, c, k, j]",
            "bias: [d]",
            "dtype f32",
            "output y: [n, d, h, w]",
            "h = floor((x.h + 4 - (k - 1) - 1) / 2) + 1",
            "w = floor((x.w + 4 - (j - 1) - 1) / 2) + 1",
            "forward: y = \"nchwkj,dckj->ndhw\"",
            "grad_weight = \"nchwkj,ndhw->dckj\"",
            "grad_x = fold_hw(\"ndhw,dckj->nchwkj\")",
            "fold x.h by k: position p_k gathers h = (q_k - k) / 2 for k ≡ q_k (mod 2), q_k = p_k + 2, 0 <= h < len(h)",
            "fold x.w by j: position p_j gathers w = (q_j - j) / 2 for j ≡ q_j (mod 2), q_j = p_j + 2, 0 <= w < len(w)",
            "grad_bias = \"ndhw->d\"",
        ],
    );
    let headings = ["Declaration", "Operands", "Shapes", "Contractions"];
    let at: Vec<usize> = (headings.iter())
        .map(|h| out.find(&format!("\n{h}")).expect(h))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{out}");
}

#[test]
fn chain_of_three_prints_three_gradients() {
    let output = explain(&["--no-code", r#"chain(a, b, c) = "ab,bc,cd->ad";"#]);
    let (code, out, err) = (
        output.status.code().expect("exited"),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    );
    assert_eq!((code, err.as_str()), (0, ""));
    assert_lines(
        &out,
        &[
            "forward: y = \"ab,bc,cd->ad\"",
            "grad_a = \"ad,bc,cd->ab\"",
            "grad_b = \"ab,ad,cd->bc\"",
            "grad_c = \"ab,bc,ad->cd\"",
        ],
    );
    assert_eq!(out.matches("grad_").count(), 3, "{out}");
}

#[test]
fn several_kernels_are_each_explained() {
    let (code, out, _) =
        run("/// matmul\nmm(a, b) = \"ik,kj->ij\";\nsq(x) = \"ij->i\" { dtype f64; size j = 4; }");
    assert_eq!(code, 0);
    assert_lines(
        &out,
        &[
            "kernel mm",
            "/// matmul",
            "kernel sq",
            "dtype f64",
            "size j = 4",
        ],
    );
    assert!(out.find("kernel mm").unwrap() < out.find("kernel sq").unwrap());
}

#[test]
fn every_check_error_is_shown_at_its_line_and_column() {
    let text = "bad(x, weight) = \"nchwkj,dckj->ndhw\" {\n    unfold x.h by k, stride = 0;\n    bias q;\n}";
    let (code, out, err) = run(text);
    assert_eq!((code, out.as_str()), (1, ""));
    let expected = r#"error: `stride = 0` is not a stride: write 1 or more
  --> line 2, column 31
  |
2 |     unfold x.h by k, stride = 0;
  |                               ^

error: unknown axis 'q': write one of the axes of the spec "nchwkj,dckj->ndhw": n, c, h, w, k, j, d
  --> line 3, column 10
  |
3 |     bias q;
  |          ^

"#;
    assert_eq!(err, expected);
}

#[test]
fn syntax_error_exits_1_with_its_position() {
    let (code, out, err) = run("k(x, w) = \"ab,bc->ac\" {\n    unfold x.a by k stride = 2;\n}");
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with("error: expected `,` and another option, or `;`"),
        "{err}"
    );
    assert_lines(
        &err,
        &["--> line 2, column 21", "|                     ^^^^^^"],
    );
}

#[test]
fn unclosed_string_points_at_its_quote() {
    let (code, _, err) = run("k(x) = \"ab->a;");
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: this string is never closed"),
        "{err}"
    );
    assert_lines(&err, &["--> line 1, column 8", "|        ^"]);
}

#[test]
fn missing_spec_points_at_the_last_token() {
    let (code, _, err) = run("k(x, w) =\n");
    assert_eq!(code, 1);
    assert!(err.contains("expected the einsum spec"), "{err}");
    assert_lines(&err, &["--> line 1, column 9"]);
}

#[test]
fn usage() {
    let help = explain(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8(help.stdout)
        .unwrap()
        .starts_with("usage: conv-explain"));
    let missing = explain(&[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8(missing.stderr)
        .unwrap()
        .starts_with("usage: conv-explain"));
}

#[test]
fn duplicate_kernel_names_are_an_error() {
    let (code, _, err) = run("k(a) = \"i->i\";\nk(b) = \"j->j\";");
    assert_eq!(code, 1);
    assert!(
        err.contains("a kernel named `k` is already declared"),
        "{err}"
    );
    assert_lines(&err, &["--> line 2, column 1"]);
}

/// Runs the tool with `args`; returns (exit code, stdout, stderr).
fn run_args(args: &[&str]) -> (i32, String, String) {
    let output = explain(args);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    (output.status.code().expect("exited"), stdout, stderr)
}

const CONV3X3: &str = r#"conv(x, weight) = "nchwkj,dckj->ndhw" {
    unfold x.h by k, pad = 1;
    unfold x.w by j, pad = 1;
    bias d;
}"#;

#[test]
fn extents_show_the_path_of_every_pass_and_why() {
    let extents = "n=8,c=64,h=56,w=56,d=64,k=3,j=3";
    let (code, out, err) = run_args(&["--no-code", "--extents", extents, CONV3X3]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_lines(
        &out,
        &[
            "forward: Winograd F(4x4, 3x3)",
            "grad_x: Winograd F(4x4, 3x3)",
            "grad_weight: Winograd F(4x4, 3x3)",
            "grad_bias: bias sum",
        ],
    );
    assert!(
        out.contains(
            "Paths for c=64,d=64,h=56,j=3,k=3,n=8,w=56 (x [8, 64, 56, 56], weight [64, 64, 3, 3];"
        ),
        "{out}"
    );
    // Stride 2 over 1152 taps and 128 columns (576 KiB of weights): the forward pass
    // goes to the GEMM, grad_x too (no transposed kernel for strided windows).
    let strided = CONV3X3.replace("pad = 1", "stride = 2, pad = 1");
    let (code, out, _) = run_args(&[
        "--no-code",
        "--extents=n=8,c=128,h=56,w=56,d=128,k=3,j=3",
        &strided,
    ]);
    assert_eq!(code, 0);
    assert_lines(
        &out,
        &[
            "forward: panels + GEMM",
            "grad_x: panels + GEMM",
            "when: strided windows whose B (taps x columns) takes 512 KiB or more",
        ],
    );
    // Tiny extents stay on the loop nest.
    let (code, out, _) = run_args(&[
        "--no-code",
        "--extents",
        "n=1,c=2,h=5,w=5,d=3,k=3,j=3",
        CONV3X3,
    ]);
    assert_eq!(code, 0);
    assert_lines(
        &out,
        &[
            "forward: loop nest",
            "grad_x: loop nest",
            "grad_weight: loop nest",
            "grad_bias: loop nest",
        ],
    );
}

#[test]
fn bad_extents_are_reported() {
    // An axis missing: which one to add.
    let (code, out, err) = run_args(&["--no-code", "--extents", "n=8,c=64,h=56,w=56", CONV3X3]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("no extent for operand weight's axes: add d=N,k=N,j=N"),
        "{err}"
    );
    // Not AXIS=N: usage.
    let (code, _, err) = run_args(&["--extents", "n=eight", CONV3X3]);
    assert_eq!(code, 2);
    assert!(err.contains("`n=eight` is not AXIS=N"), "{err}");
    // Extents that do not fit the kernel: the shape error.
    let (code, _, err) = run_args(&[
        "--no-code",
        "--extents",
        "n=1,c=2,h=0,w=5,d=3,k=3,j=3",
        CONV3X3,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("x"), "{err}");
}

#[test]
fn windows_on_the_output_are_explained_with_their_adjoint_s_paths() {
    let up = r#"up(x, w) -> y = "ncij,cdkl->ndijkl" {
        unfold y.i by k, pad = 1;
        unfold y.j by l, pad = 1;
        size k = 3, l = 3;
    }"#;
    let (code, out, err) = run_args(&["--no-code", "--extents", "n=8,c=64,d=32,i=28,j=28", up]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_lines(
        &out,
        &[
            "kernel up(x, w) -> y = \"ncij,cdkl->ndijkl\"",
            "y.i = (x.i - 1) - 2 + (3 - 1) + 1",
            "forward: y = fold_ij(\"ncij,cdkl->ndijkl\")",
            "grad_x = \"ndijkl,cdkl->ncij\"",
            "grad_y read through unfold y.i by k, stride 1, dilation 1, pad (1, 1), zeros",
            // A transposed convolution's passes are the convolution's: Winograd's tiles
            // run its forward (the convolution's grad_x) and its grad_x.
            "forward: Winograd F(4x4, 3x3)",
            "grad_x: Winograd F(4x4, 3x3)",
            "grad_w: Winograd F(4x4, 3x3)",
        ],
    );
    assert!(
        out.contains("each pass is one of the adjoint convolution g = \"ndijkl,cdkl->ncij\""),
        "{out}"
    );
    assert!(out.contains("the gradient of a fold is an unfold"), "{out}");
}
