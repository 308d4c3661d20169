//! Every PyTorch fixture (tests/fixtures, written by generate.py) through its generated
//! kernel: the forward result and the gradient of every operand and of the bias, for the
//! fixture's upstream gradient, against PyTorch's within `pytorch_support::tolerance`.
//!
//! The kernels and the list of cases are generated too (tests/fixtures/kernels.rs): the
//! strides, dilations and pads of a kernel are compile-time constants, so there is one
//! `conv_kernel!` per distinct declaration, shared by the cases that differ only in
//! shapes and values. `cargo test --test pytorch_kernels -- --nocapture` prints the
//! largest relative error of each case.

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
