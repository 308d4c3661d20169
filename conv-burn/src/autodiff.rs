//! `Autodiff<B>`: the forward pass on `B`, and a backward step that calls the kernel's
//! derived gradients (`Kernel::gradient_dyn`) for every input that requires one.

use crate::backend::{cpu_forward, cpu_gradient, Bias, CpuBackend, KernelBackend, Operands};
use crate::BurnKernel;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::FloatTensor;
use conv_runtime::Wrt;

/// The backward step of one kernel call with `N` inputs: the operands, then the bias if
/// one was given.
#[derive(Debug)]
struct KernelBackward<K>(core::marker::PhantomData<K>);

/// What the backward step keeps: the kernel, the checkpointed operands (their values are
/// what the gradients read) and whether the last input is a bias.
#[derive(Clone, Debug)]
struct State<K> {
    kernel: K,
    operands: Vec<NodeId>,
}

impl<B: CpuBackend, K: BurnKernel, const N: usize> Backward<B, N> for KernelBackward<K> {
    type State = State<K>;

    fn backward(
        self,
        ops: Ops<Self::State, N>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let grad_y = grads.consume::<B>(&ops.node);
        let State { kernel, operands } = ops.state;
        let operands: Vec<FloatTensor<B>> = operands
            .into_iter()
            .map(|id| checkpointer.retrieve_node_output(id))
            .collect();
        for (i, parent) in ops.parents.iter().enumerate() {
            let Some(node) = parent else { continue };
            let wrt = if i < operands.len() {
                Wrt::Operand(i)
            } else {
                Wrt::Bias
            };
            let grad = cpu_gradient::<B, K>(kernel, wrt, &operands, &grad_y);
            grads.register::<B>(node.id, grad);
        }
    }
}

/// Records the call with its `N` inputs (operands, then the bias if any).
fn record<B: CpuBackend, C: CheckpointStrategy, K: BurnKernel, const N: usize>(
    kernel: K,
    operands: Vec<FloatTensor<Autodiff<B, C>>>,
    bias: Option<FloatTensor<Autodiff<B, C>>>,
) -> FloatTensor<Autodiff<B, C>> {
    let nodes: [_; N] = operands
        .iter()
        .chain(bias.iter())
        .map(|t| t.node())
        .collect::<Vec<_>>()
        .try_into()
        .unwrap_or_else(|_| unreachable!("N is the number of inputs"));
    let prepared = KernelBackward::<K>(core::marker::PhantomData)
        .prepare::<C>(nodes)
        .compute_bound()
        .stateful();
    let inner = |operands: &[FloatTensor<Autodiff<B, C>>]| -> Vec<FloatTensor<B>> {
        operands.iter().map(|t| t.primitive().clone()).collect()
    };
    let bias_inner = bias.as_ref().map(|b| b.primitive().clone());
    match prepared {
        OpsKind::Tracked(mut prep) => {
            let ids = operands.iter().map(|t| prep.checkpoint(t)).collect();
            let y = cpu_forward::<B, K>(kernel, &inner(&operands), bias_inner.as_ref());
            prep.finish(
                State {
                    kernel,
                    operands: ids,
                },
                y,
            )
        }
        OpsKind::UnTracked(prep) => prep.finish(cpu_forward::<B, K>(
            kernel,
            &inner(&operands),
            bias_inner.as_ref(),
        )),
    }
}

impl<B: CpuBackend, C: CheckpointStrategy> KernelBackend for Autodiff<B, C> {
    fn conv_kernel_forward<K: BurnKernel>(
        kernel: K,
        operands: Operands<Self>,
        bias: Bias<Self>,
    ) -> FloatTensor<Self> {
        let operands = operands.into_vec();
        let bias = bias.into_option();
        match operands.len() + usize::from(bias.is_some()) {
            1 => record::<B, C, K, 1>(kernel, operands, bias),
            2 => record::<B, C, K, 2>(kernel, operands, bias),
            3 => record::<B, C, K, 3>(kernel, operands, bias),
            4 => record::<B, C, K, 4>(kernel, operands, bias),
            5 => record::<B, C, K, 5>(kernel, operands, bias),
            n => unreachable!("{n} inputs: Operands holds at most 4 operands"),
        }
    }
}
