//! examples/transposed_conv.rs under `cargo test`: its kernel and every check it asserts
//! (grad_x of a stride-2 conv against a textbook scatter loop for 4x4 and 3x3 outputs, a
//! value by hand, several channels, and the adjoint identity), included as a module so
//! that the example and this test cannot drift apart.

#[path = "../examples/transposed_conv.rs"]
mod transposed_conv;

#[test]
fn transposed_conv_example_checks_pass() {
    transposed_conv::main().unwrap();
}

/// The included kernel is the example's stride-2, pad-1 conv: 4x4 and 3x3 inputs both map
/// to 2x2, which is why the transposed conv takes the input shape as an argument.
#[test]
fn the_example_kernel_halves_both_sides() {
    for side in [3, 4] {
        assert_eq!(
            transposed_conv::conv::output_shape([1, 1, side, side], [1, 1, 3, 3]).unwrap(),
            [1, 1, 2, 2]
        );
    }
}
