//! Gradients of plain einsums (no unfold), worked out by hand: for
//! `y = contract(v_1, ..., v_n)`, grad_i is the same contraction with `v_i` replaced by
//! grad_y (subscript: the output's) and `v_i`'s subscript as result. An axis of `v_i`
//! that no other input has (and the output lacks) is a broadcast of the gradient.

mod common;

use common::{derivation, extents, gradients};

#[test]
fn matmul() {
    // grad_a[i,k] = sum_j grad_y[i,j] b[k,j]; grad_b[k,j] = sum_i a[i,k] grad_y[i,j].
    let source = r#"mm(a, b) = "ik,kj->ij";"#;
    assert_eq!(
        gradients(source),
        ["grad_a = \"ij,kj->ik\"", "grad_b = \"ik,ij->kj\""]
    );
    assert_eq!(extents(source), ["i = a.i", "j = b.j", "summed k = a.k"]);
}

#[test]
fn matmul_whole_derivation() {
    let expected = "\
kernel mm(a, b) = \"ik,kj->ij\"
dtype f64
operand a: [i, k]
operand b: [k, j]
bias: [j]
output y: [i, j]
  i = a.i
  j = b.j
  summed k = a.k
forward: y = \"ik,kj->ij\"
  + bias[j]
grad_a = \"ij,kj->ik\"
grad_b = \"ik,ij->kj\"
grad_bias = \"ij->j\"
";
    assert_eq!(
        derivation(r#"mm(a, b) = "ik,kj->ij" { dtype f64; bias j; }"#),
        expected
    );
}

#[test]
fn transpose() {
    // y[j,i] = x[i,j], so grad_x[i,j] = grad_y[j,i].
    let source = r#"t(x) = "ij->ji";"#;
    assert_eq!(gradients(source), ["grad_x = \"ji->ij\""]);
    assert_eq!(extents(source), ["j = x.j", "i = x.i"]);
}

#[test]
fn sum_has_a_broadcast_gradient() {
    // y[i] = sum_j x[i,j], so grad_x[i,j] = grad_y[i] for every j: j is in no input of
    // the gradient and takes its extent from x.
    let source = r#"s(x) = "ij->i";"#;
    assert_eq!(gradients(source), ["grad_x = \"i->ij\"", "  j: broadcast"]);
    let text = derivation(source);
    assert!(
        text.ends_with("grad_x = \"i->ij\"\n  j: broadcast (no input varies along it)\n"),
        "{text}"
    );
}

#[test]
fn full_sum_to_a_scalar() {
    let source = r#"total(x) = "ij->";"#;
    assert_eq!(
        gradients(source),
        ["grad_x = \"->ij\"", "  i: broadcast", "  j: broadcast"]
    );
    assert_eq!(extents(source), ["summed i = x.i", "summed j = x.j"]);
}

#[test]
fn three_operand_chain() {
    // y[a,d] = sum_{b,c} A[a,b] B[b,c] C[c,d]:
    // grad_A[a,b] = sum_{c,d} grad_y[a,d] B[b,c] C[c,d], and so on.
    let source = r#"chain(p, q, r) = "ab,bc,cd->ad";"#;
    assert_eq!(
        gradients(source),
        [
            "grad_p = \"ad,bc,cd->ab\"",
            "grad_q = \"ab,ad,cd->bc\"",
            "grad_r = \"ab,bc,ad->cd\"",
        ]
    );
    assert_eq!(
        extents(source),
        ["a = p.a", "d = r.d", "summed b = p.b", "summed c = q.c"]
    );
}

#[test]
fn an_axis_summed_inside_one_other_operand() {
    // y[a] = sum_{b,c} x[a,b] w[b,c]: grad_x[a,b] = grad_y[a] * sum_c w[b,c], and
    // grad_w[b,c] = sum_a x[a,b] grad_y[a], broadcast along c.
    let source = r#"k(x, w) = "ab,bc->a";"#;
    assert_eq!(
        gradients(source),
        [
            "grad_x = \"a,bc->ab\"",
            "grad_w = \"ab,a->bc\"",
            "  c: broadcast"
        ]
    );
}

#[test]
fn outer_product_and_elementwise_product() {
    assert_eq!(
        gradients(r#"outer(u, v) = "i,j->ij";"#),
        ["grad_u = \"ij,j->i\"", "grad_v = \"i,ij->j\""]
    );
    assert_eq!(
        gradients(r#"hadamard(u, v) = "ij,ij->ij";"#),
        ["grad_u = \"ij,ij->ij\"", "grad_v = \"ij,ij->ij\""]
    );
}

#[test]
fn spaces_in_the_spec_are_ignored() {
    assert_eq!(
        gradients(r#"mm(a, b) = "ik, kj -> ij";"#),
        ["grad_a = \"ij,kj->ik\"", "grad_b = \"ik,ij->kj\""]
    );
}

#[test]
fn uppercase_and_lowercase_letters_are_different_axes() {
    assert_eq!(
        gradients(r#"mm(a, b) = "iK,Kk->ik";"#),
        ["grad_a = \"ik,Kk->iK\"", "grad_b = \"iK,ik->Kk\""]
    );
}

#[test]
fn a_pooling_window_sized_by_size() {
    // Sum pooling: the window axis q is only in x, so its extent is fixed by `size`;
    // grad_x broadcasts grad_y over q and folds it back. The fold's positions are named
    // p_q and q_q (after the window), so that they cannot be taken for the axes p and q.
    let source = r#"pool(x) = "nclq->ncl" { unfold x.l by q, stride = 2; size q = 2; }"#;
    assert_eq!(
        gradients(source),
        [
            "grad_x = fold_l(\"ncl->nclq\")",
            "  fold x.l by q: position p_q gathers l = (q_q - q) / 2 for q ≡ q_q (mod 2), q_q = p_q, 0 <= l < len(l)",
            "  q: broadcast",
        ]
    );
    let source = r#"c(x, w) = "nchwpq,dcpq->ndhw" { unfold x.h by p, pad = 1; unfold x.w by q; }"#;
    assert_eq!(
        gradients(source)[1..3],
        [
            "  fold x.h by p: position p_p gathers h = q_p - p for every p, q_p = p_p + 1, 0 <= h < len(h)",
            "  fold x.w by q: position p_q gathers w = q_q - q for every q, q_q = p_q, 0 <= w < len(w)",
        ]
    );
}
