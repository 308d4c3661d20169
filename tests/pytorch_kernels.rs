//! Every PyTorch fixture (tests/fixtures, written by generate.py) through its generated
//! kernel: the forward result and the gradient of every operand and of the bias, for the
//! fixture's upstream gradient, against PyTorch's within `pytorch_support::tolerance`.
//!
//! The kernels and the list of cases are generated too (tests/fixtures/kernels.rs): the
//! strides, dilations and pads of a kernel are compile-time constants, so there is one
//! `conv_kernel!` per distinct declaration, shared by the cases that differ only in
//! shapes and values. `cargo test --test pytorch_kernels -- --nocapture` prints the
//! largest relative error of each case.
//!
//! The cases of family `fast_path` are big enough for conv-runtime's fast path (direct,
//! transposed, GEMM on panels, GEMM in place): their tests assert it from the stored
//! shapes before comparing, so that they hold that path, not the loop nest, to PyTorch.

mod pytorch_support;

use conv_kernels::conv_kernel;

/// One `#[test]` per case, named like it, running it through the kernel it names.
macro_rules! fixture_tests {
    ($($(#[$attr:meta])* $case:ident => $kernel:ident,)*) => {
        /// The cases that have a test here, in the generator's order.
        const TESTED: &[&str] = &[$(stringify!($case)),*];

        mod case {
            $(
                #[test]
                $(#[$attr])*
                fn $case() {
                    crate::pytorch_support::check_kernel(&super::$kernel::Kernel, stringify!($case));
                }
            )*
        }
    };
}

include!("fixtures/kernels.rs");

#[test]
fn every_fixture_has_a_test() {
    let fixtures: Vec<&str> = pytorch_support::CASES.iter().map(|c| c.name).collect();
    assert_eq!(
        TESTED,
        &fixtures[..],
        "kernels.rs and cases.rs are out of step: re-run tests/fixtures/generate.py"
    );
}

/// The fast-path fixtures (family `fast_path`) are big enough for the fast path, on the
/// shapes they store: every case's test asserts it too, before comparing with PyTorch.
#[test]
fn fast_path_cases_are_above_the_threshold() {
    fn check<T: conv_kernels::Element>(case: &pytorch_support::Case) -> pytorch_support::Macs {
        pytorch_support::assert_on_fast_path(case, &pytorch_support::Fixture::<T>::load(case))
    }
    let mut count = 0;
    for case in pytorch_support::CASES
        .iter()
        .filter(|c| c.family == "fast_path")
    {
        let macs = match case.dtype {
            "f32" => check::<f32>(case),
            _ => check::<f64>(case),
        };
        println!("{:<24} {} {macs:?}", case.name, case.dtype);
        count += 1;
    }
    assert!(count >= 15, "{count} fast-path cases");
}

/// `pytorch_support::macs` on shapes counted by hand.
#[test]
fn multiply_adds_counted_from_shapes() {
    use pytorch_support::{macs, Macs};
    let conv = r#"c(x, weight) = "nchwkj,dckj->ndhw" { unfold x.h by k, stride = 2, pad = 1; unfold x.w by j, stride = 2, pad = 1; bias d; }"#;
    // y (2, 6, 8, 8) times c, k, j = 4 * 3 * 3; x's 2 * 4 * 15 * 16 entries times d, k, j.
    assert_eq!(
        macs(
            conv,
            &["x", "weight"],
            &[&[2, 4, 15, 16], &[6, 4, 3, 3]],
            &[2, 6, 8, 8]
        ),
        Macs {
            product: 768 * 36,
            gathered: 1920 * 54,
        }
    );
    let one_by_one = r#"c(x, weight) = "nchw,dc->ndhw" { bias d; }"#;
    assert_eq!(
        macs(
            one_by_one,
            &["x", "weight"],
            &[&[1, 4, 32, 32], &[16, 4]],
            &[1, 16, 32, 32]
        ),
        Macs {
            product: 65536,
            gathered: 65536,
        }
    );
    let depthwise = r#"c(x, weight) = "nchwkj,ckj->nchw" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }"#;
    assert_eq!(
        macs(
            depthwise,
            &["x", "weight"],
            &[&[2, 6, 12, 14], &[6, 3, 3]],
            &[2, 6, 12, 14]
        ),
        Macs {
            product: 2016 * 9,
            gathered: 2016 * 9,
        }
    );
}
