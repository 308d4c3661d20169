//! The backend extension: one operation, [`KernelBackend::conv_kernel_forward`], that runs a
//! generated kernel's forward pass on a backend's tensors, implemented for the CPU backends
//! (NdArray and Flex) by reading their tensors as ndarray views, and for `Autodiff<B>` by
//! recording a backward step that calls the kernel's derived gradients.

use crate::element::BurnElement;
use crate::BurnKernel;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, ExtensionType};
use conv_runtime::Wrt;
use ndarray::{ArrayD, CowArray, IxDyn};

/// A kernel's operands as one value that crosses burn's dispatch layer: one to four tensors,
/// in the order of the kernel's operand list.
#[derive(ExtensionType, Debug)]
pub enum Operands<B: Backend> {
    /// One operand (pooling, a fold).
    One(FloatTensor<B>),
    /// Two operands (a convolution's input and weight).
    Two(FloatTensor<B>, FloatTensor<B>),
    /// Three operands.
    Three(FloatTensor<B>, FloatTensor<B>, FloatTensor<B>),
    /// Four operands.
    Four(
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
    ),
}

impl<B: Backend> Operands<B> {
    /// The operands in order.
    pub fn into_vec(self) -> Vec<FloatTensor<B>> {
        match self {
            Operands::One(a) => vec![a],
            Operands::Two(a, b) => vec![a, b],
            Operands::Three(a, b, c) => vec![a, b, c],
            Operands::Four(a, b, c, d) => vec![a, b, c, d],
        }
    }
}

/// The bias of a kernel, if one is given.
#[derive(ExtensionType, Debug)]
pub enum Bias<B: Backend> {
    /// No bias: the kernel has none, or a zero bias.
    Absent,
    /// A one-dimensional bias along the kernel's bias axis.
    Present(FloatTensor<B>),
}

impl<B: Backend> Bias<B> {
    /// The bias tensor, if present.
    pub fn into_option(self) -> Option<FloatTensor<B>> {
        match self {
            Bias::Absent => None,
            Bias::Present(bias) => Some(bias),
        }
    }
}

/// burn backends that run generated kernels: a backend extension (see burn's book, "Backend
/// Extension"). `#[backend_extension]` routes [`Dispatch`](burn::backend::Dispatch) calls,
/// which is what [`Tensor`](burn::Tensor)s on a `Device` make, to the NdArray and Flex
/// implementations, and to `Autodiff<B>`'s for devices made with `.autodiff()`.
///
/// Applications call [`apply`](crate::apply) and friends, or use a
/// [`ConvLayer`](crate::ConvLayer), rather than this trait.
#[backend_extension(NdArray: cfg(feature = "ndarray"), Flex: cfg(feature = "flex"), Autodiff)]
pub trait KernelBackend: Backend {
    /// The kernel's forward result for `operands` and an optional bias; shapes must have
    /// been checked (a wrong shape panics here, with the kernel's [`ShapeError`]
    /// message).
    ///
    /// [`ShapeError`]: conv_runtime::ShapeError
    fn conv_kernel_forward<K: BurnKernel>(
        kernel: K,
        #[extension_type] operands: Operands<Self>,
        #[extension_type] bias: Bias<Self>,
    ) -> FloatTensor<Self>;
}

/// A CPU backend whose float tensors can be read as ndarray arrays and made from them:
/// what the generated kernels run on.
pub trait CpuBackend: Backend {
    /// The tensor as an ndarray array of `E`: a view of its storage, without copying,
    /// where the layout allows (always for NdArray; for Flex unless a stride is negative).
    ///
    /// # Panics
    ///
    /// If the tensor's element type is not `E`.
    fn array<E: BurnElement>(tensor: &FloatTensor<Self>) -> CowArray<'_, E, IxDyn>;

    /// A tensor owning `array`'s data (moved, not copied, for a standard-layout array).
    fn from_array<E: BurnElement>(array: ArrayD<E>) -> FloatTensor<Self>;
}

#[cfg(feature = "ndarray")]
impl CpuBackend for burn::backend::NdArray {
    fn array<E: BurnElement>(tensor: &FloatTensor<Self>) -> CowArray<'_, E, IxDyn> {
        E::ndarray_view(tensor)
            .unwrap_or_else(|| dtype_panic::<E>(burn::backend::TensorMetadata::dtype(tensor)))
            .into()
    }

    fn from_array<E: BurnElement>(array: ArrayD<E>) -> FloatTensor<Self> {
        E::ndarray_tensor(array)
    }
}

#[cfg(feature = "flex")]
impl CpuBackend for burn::backend::Flex {
    fn array<E: BurnElement>(tensor: &FloatTensor<Self>) -> CowArray<'_, E, IxDyn> {
        E::flex_array(tensor)
    }

    fn from_array<E: BurnElement>(array: ArrayD<E>) -> FloatTensor<Self> {
        E::flex_tensor(array)
    }
}

pub(crate) fn dtype_panic<E: BurnElement>(actual: burn::tensor::DType) -> ! {
    panic!(
        "conv-burn: the kernel's element type is {}, the tensor's {actual:?}",
        E::NAME
    )
}

/// Panics with the kernel's own message: the public functions check shapes before they
/// reach the backend, so this is a shape the checks let through.
fn expect<T>(result: Result<T, conv_runtime::ShapeError>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("conv-burn: {what}: {e}"))
}

/// The forward pass on a CPU backend.
pub(crate) fn cpu_forward<B: CpuBackend, K: BurnKernel>(
    kernel: K,
    operands: &[FloatTensor<B>],
    bias: Option<&FloatTensor<B>>,
) -> FloatTensor<B> {
    let arrays: Vec<_> = operands.iter().map(B::array::<K::Elem>).collect();
    let views: Vec<_> = arrays.iter().map(|a| a.view()).collect();
    let bias = bias.map(B::array::<K::Elem>);
    let y = expect(
        kernel.forward_dyn(&views, bias.as_ref().map(|b| b.view())),
        "forward",
    );
    B::from_array(y)
}

/// One gradient on a CPU backend.
pub(crate) fn cpu_gradient<B: CpuBackend, K: BurnKernel>(
    kernel: K,
    wrt: Wrt,
    operands: &[FloatTensor<B>],
    grad_y: &FloatTensor<B>,
) -> FloatTensor<B> {
    let arrays: Vec<_> = operands.iter().map(B::array::<K::Elem>).collect();
    let views: Vec<_> = arrays.iter().map(|a| a.view()).collect();
    let grad_y = B::array::<K::Elem>(grad_y);
    let grad = expect(kernel.gradient_dyn(wrt, &views, grad_y.view()), "gradient");
    B::from_array(grad)
}

#[cfg(feature = "ndarray")]
impl KernelBackend for burn::backend::NdArray {
    fn conv_kernel_forward<K: BurnKernel>(
        kernel: K,
        operands: Operands<Self>,
        bias: Bias<Self>,
    ) -> FloatTensor<Self> {
        cpu_forward::<Self, K>(kernel, &operands.into_vec(), bias.into_option().as_ref())
    }
}

#[cfg(feature = "flex")]
impl KernelBackend for burn::backend::Flex {
    fn conv_kernel_forward<K: BurnKernel>(
        kernel: K,
        operands: Operands<Self>,
        bias: Bias<Self>,
    ) -> FloatTensor<Self> {
        cpu_forward::<Self, K>(kernel, &operands.into_vec(), bias.into_option().as_ref())
    }
}
