//! Front-end facts that need kernel text to state: the plan of a kernel as matrix
//! products and the kernel text written back, both from parsed declarations.

use conv_codegen::check::check;
use conv_codegen::gemm_plan::{gemm_plan, GemmPlan};
use conv_codegen::kernel::Kernel;
use conv_codegen::parse::parse_text;
use conv_codegen::source::kernel_source;

fn kernel(text: &str) -> Kernel {
    check(&parse_text(text).kernels[0].ast).unwrap()
}

fn plan(text: &str) -> Option<GemmPlan> {
    gemm_plan(&kernel(text))
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

#[test]
fn conv2d_rows_are_positions_columns_channels() {
    let p = plan(r#"k(x, w) = "nchwkj,dckj->ndhw" { unfold x.h by k; unfold x.w by j; }"#).unwrap();
    assert_eq!((p.a, p.b), (0, 1));
    assert_eq!(
        (p.batch, p.m, p.n, p.k),
        (vec![], chars("nhw"), chars("d"), chars("ckj"))
    );
}

#[test]
fn grouped_has_a_batch_axis_and_the_windowed_operand_may_come_second() {
    let p =
        plan(r#"k(w, x) = "gdckj,ngchwkj->ngdhw" { unfold x.h by k; unfold x.w by j; }"#).unwrap();
    assert_eq!((p.a, p.b), (1, 0));
    assert_eq!(
        (p.batch, p.m, p.n, p.k),
        (chars("g"), chars("nhw"), chars("d"), chars("ckj"))
    );
}

#[test]
fn depthwise_is_a_batch_of_single_column_products() {
    let p = plan(r#"k(x, w) = "nchwkj,ckj->nchw" { unfold x.h by k; unfold x.w by j; }"#).unwrap();
    assert_eq!(
        (p.batch, p.m, p.n, p.k),
        (chars("c"), chars("nhw"), chars(""), chars("kj"))
    );
}

#[test]
fn matmul_is_a_plan_and_so_is_a_batched_one() {
    let p = plan(r#"k(a, b) = "ik,kj->ij";"#).unwrap();
    assert_eq!((p.m, p.n, p.k), (chars("i"), chars("j"), chars("k")));
    assert!(plan(r#"k(a, b) = "bik,bkj->bij";"#).is_some());
}

#[test]
fn kernels_that_are_not_gemms_have_no_plan() {
    // one operand; three operands; an axis of one operand only.
    assert!(plan(r#"k(x) = "nclk->ncl" { unfold x.l by k; size k = 2; }"#).is_none());
    assert!(plan(r#"k(a, b, c) = "ab,bc,cd->ad";"#).is_none());
    assert!(plan(r#"k(a, b) = "ikz,kj->ij";"#).is_none());
    // windows on both operands
    assert!(plan(
        r#"k(x, w) = "nlk,lj->n" { unfold x.l by k; unfold w.l by j; size k = 2, j = 2; }"#
    )
    .is_none());
}

#[test]
fn round_trips_every_statement() {
    let original = kernel(
        r#"/// docs are not part of the source
        k(x, weight) = "nchwkj,dckj->ndhw" {
            unfold x.h by k, stride = 2, dilation = 3, pad = (1, 2), mode = reflect;
            unfold x.w by j, pad = same, mode = circular;
            size k = 3, h = 9;
            bias d;
            dtype f64;
        }"#,
    );
    let again = kernel(&kernel_source(&original));
    assert_eq!(
        Kernel {
            docs: Vec::new(),
            ..original
        },
        again
    );
}
