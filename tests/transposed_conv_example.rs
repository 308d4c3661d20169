//! examples/transposed_conv.rs under `cargo test`: its kernels and every check it asserts
//! (the U-Net upsampling layer, with and without output_padding, against a textbook
//! scatter loop, values by hand, and its input gradient against the stride-2 convolution
//! with the same weight), included as a module so that the example and this test cannot
//! drift apart.

#[path = "../examples/transposed_conv.rs"]
mod transposed_conv;

#[test]
fn transposed_conv_example_checks_pass() {
    transposed_conv::main().unwrap();
}

/// The included kernels: with output_padding = 1 the layer doubles both sides exactly,
/// without it gives 2 * side - 1, and the stride-2 convolution maps both back to side.
#[test]
fn the_example_kernels_double_and_halve_both_sides() {
    use transposed_conv::{down2, up2, up2_odd};
    for side in [3, 4, 5] {
        let (even, odd) = (2 * side, 2 * side - 1);
        assert_eq!(
            up2::output_shape([1, 3, side, side], [3, 2, 3, 3]).unwrap(),
            [1, 2, even, even]
        );
        assert_eq!(
            up2_odd::output_shape([1, 3, side, side], [3, 2, 3, 3]).unwrap(),
            [1, 2, odd, odd]
        );
        for up in [even, odd] {
            assert_eq!(
                down2::output_shape([1, 2, up, up], [3, 2, 3, 3]).unwrap(),
                [1, 3, side, side]
            );
        }
    }
}
