//! The facts a generated module carries are what the front end derives from its kernel,
//! exactly: the emitted data is a faithful copy, not a second derivation.

use conv_runtime::model::facts::Facts;
use conv_runtime::model::kernel::{Pad, PadMode};
use conv_runtime::{compile_text, conv_kernel};

conv_kernel! {
    /// Docs are facts too.
    conv(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = (0, 2), dilation = 2;
        unfold x.w by j, pad = same;
        size k = 3;
        bias d;
    }
    strided(x, weight) = "nclk,dck->ndl" {
        unfold x.l by k, stride = 2, pad = 1, mode = reflect;
        dtype f64;
    }
    strided_zero(x, weight) = "nclk,dck->ndl" { unfold x.l by k, stride = 2, pad = 1; }
    depthwise(w, x) = "ckj,nchwkj->nchw" { unfold x.h by k; unfold x.w by j; }
    chain(a, b, c) = "ab,bc,cd->ad";
}

/// What the front end derives from a generated module's own kernel text.
fn derived(source: &str, docs: &[String]) -> Facts {
    let mut program = compile_text(source).expect("valid kernel text").remove(0);
    program.kernel.docs = docs.to_vec();
    Facts::derive(program)
}

#[test]
fn emitted_facts_are_the_derived_ones() {
    let docs = &conv::facts().kernel().docs;
    assert_eq!(docs, &[" Docs are facts too.".to_string()]);
    assert_eq!(*conv::facts(), derived(conv::SOURCE, docs));
    assert_eq!(*strided::facts(), derived(strided::SOURCE, &[]));
    assert_eq!(*depthwise::facts(), derived(depthwise::SOURCE, &[]));
    assert_eq!(*chain::facts(), derived(chain::SOURCE, &[]));
}

#[test]
fn the_transposed_kernel_is_derived_and_split_by_phase_per_call() {
    let transposed = conv::facts().transposed.as_ref().expect("zero padding");
    assert_eq!(transposed.kernel.spec, "ndhwkj,dckj->nchw");
    assert_eq!(transposed.kernel.operands[0].name, "grad_y");
    assert_eq!((transposed.plan.a, transposed.plan.b), (0, 1));
    // The pads are filled per call: (span - 1 - lo, span - 1 - hi), the window's taps fixed.
    let extents =
        conv_runtime::shapes::resolve(conv::facts().kernel(), &[&[1, 2, 9, 10], &[4, 2, 3, 2]])
            .expect("shapes fit");
    let phases = transposed
        .phases(conv::facts().kernel(), &extents.windows)
        .expect("zero padding");
    // Stride 1: one phase, the whole of grad_x.
    assert_eq!(phases.len(), 1);
    assert!(phases[0].is_whole());
    let filled = phases[0].kernel.as_ref().expect("taps along every window");
    // h: span 5, pad (0, 2) -> (4, 2); w: span 2, same pad of 1 in all, (0, 1) -> (1, 0).
    assert_eq!(filled.windows[0].pad, Pad::Explicit { lo: 4, hi: 2 });
    assert_eq!(filled.windows[1].pad, Pad::Explicit { lo: 1, hi: 0 });
    assert_eq!(filled.sizes.get(&'j'), Some(&2));
    assert!(filled
        .windows
        .iter()
        .all(|w| w.mode == PadMode::Zeros && w.operand == 0 && w.stride == 1));
    // The weights first: the transposed kernel still reads grad_y through the windows.
    let depthwise = depthwise::facts()
        .transposed
        .as_ref()
        .expect("zero padding");
    assert_eq!(depthwise.kernel.spec, "nchwkj,ckj->nchw");
    // A strided window has a transposed kernel too, but reflect padding has no phases:
    // its gradient is no convolution of grad_y.
    let strided_facts = strided::facts();
    let strided_t = strided_facts.transposed.as_ref().expect("one window on x");
    let extents = conv_runtime::shapes::resolve(strided_facts.kernel(), &[&[1, 2, 9], &[4, 2, 3]])
        .expect("shapes fit");
    assert!(strided_t
        .phases(strided_facts.kernel(), &extents.windows)
        .is_none());
    // Kernels that are no batch of products have none.
    assert!(chain::facts().plan.is_none() && chain::facts().transposed.is_none());
}

#[test]
fn a_stride_2_window_splits_into_two_phases() {
    let facts = strided_zero::facts();
    let transposed = facts.transposed.as_ref().expect("one window on x");
    let extents = conv_runtime::shapes::resolve(facts.kernel(), &[&[1, 2, 10], &[4, 2, 3]])
        .expect("shapes fit");
    let phases = transposed
        .phases(facts.kernel(), &extents.windows)
        .expect("zero padding");
    // Even l meets tap 1 alone; x.l + 1 even (odd l) taps 0 and 2.
    let taps: Vec<(usize, Vec<usize>)> = phases
        .iter()
        .map(|p| (p.axes[0].first, p.axes[0].taps.clone()))
        .collect();
    assert_eq!(taps, [(0, vec![1]), (1, vec![0, 2])]);
    assert!(phases.iter().all(|p| !p.is_whole() && p.axes[0].step == 2));
    assert_eq!(
        phases[0].kernel.as_ref().and_then(|k| k.sizes.get(&'k')),
        Some(&1)
    );
}
