//! Views with non-standard strides (transposed, stepped, reversed, broadcast) give
//! exactly the results of standard-layout copies.

mod common;

use common::{broadcast, interp, random, to_f32};
use ndarray::{s, IxDyn};

/// Transposed, stepped, reversed and broadcast views give exactly the results of
/// standard-layout copies, in forward and backward, for operands, grad_y and bias.
#[test]
fn views_of_any_strides_match_copies() {
    let k = interp(
        r#"k(x, w) = "nchwkj,dckj->ndhw" {
            unfold x.h by k, stride = 2, pad = 1, mode = reflect; unfold x.w by j, dilation = 2; bias d;
        }"#,
    );
    // x stored as (w, h, c, n), viewed as (n, c, h, w); w stepped and reversed.
    let x_store = random(&[7, 5, 2, 2], 1);
    let x = x_store.view().permuted_axes(IxDyn(&[3, 2, 1, 0]));
    let w_store = random(&[6, 2, 3, 4], 2);
    let w = w_store.slice(s![..;-2, .., .., 1..;2]).into_dyn();
    let b_store = random(&[3, 4], 3);
    let b = b_store.slice(s![..;-1, 2]).into_dyn();
    let gy_store = random(&[2, 3, 3, 5], 4);
    let gy = gy_store.slice(s![.., .., ..;-1, ..]).into_dyn();
    assert!(!x.is_standard_layout() && !w.is_standard_layout() && !gy.is_standard_layout());
    let copies = [x.to_owned(), w.to_owned(), b.to_owned(), gy.to_owned()];
    let [xc, wc, bc, gyc] = &copies;
    assert_eq!(
        k.forward(&[x.view(), w.view()], Some(b.view())).unwrap(),
        k.forward(&[xc.view(), wc.view()], Some(bc.view())).unwrap()
    );
    assert_eq!(
        k.backward(&[x.view(), w.view()], gy.view()).unwrap(),
        k.backward(&[xc.view(), wc.view()], gyc.view()).unwrap()
    );
    // Broadcast (zero-stride) operand, bias and grad_y, in f32.
    let (x32, w32) = (to_f32(xc), to_f32(&random(&[1, 2, 3, 2], 5)));
    let wb = w32.broadcast(IxDyn(&[3, 2, 3, 2])).unwrap();
    let one = [0.25f32];
    let (bb, gyb) = (broadcast(&[3], &one), broadcast(&[2, 3, 3, 5], &one));
    let (wo, bo, gyo) = (wb.to_owned(), bb.to_owned(), gyb.to_owned());
    assert_eq!(
        k.forward(&[x32.view(), wb.view()], Some(bb.view()))
            .unwrap(),
        k.forward(&[x32.view(), wo.view()], Some(bo.view()))
            .unwrap()
    );
    assert_eq!(
        k.backward(&[x32.view(), wb.view()], gyb.view()).unwrap(),
        k.backward(&[x32.view(), wo.view()], gyo.view()).unwrap()
    );
}
