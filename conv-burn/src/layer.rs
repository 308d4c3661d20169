//! [`ConvLayer`]: a generated two-operand kernel with its weight and bias as parameters, the
//! analogue of `burn::nn::conv::Conv2d`.

use crate::BurnKernel;
use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::{Device, Tensor};
use conv_runtime::ShapeError;

/// How to make a [`ConvLayer`]: the weight's shape (in the layout of the kernel's second
/// operand), whether it has a bias, and how to initialise them.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use conv_burn::{ConvLayer, ConvLayerConfig};
///
/// conv_runtime::conv_kernel! {
///     /// 3x3 convolution, zero padding 1.
///     pub conv3x3(x, weight) = "nchwkj,dckj->ndhw" {
///         unfold x.h by k, pad = 1;
///         unfold x.w by j, pad = 1;
///         size k = 3, j = 3;
///         bias d;
///     }
/// }
///
/// let device = Device::flex();
/// let layer: ConvLayer<conv3x3::Kernel, 4> =
///     ConvLayerConfig::new(vec![8, 3, 3, 3]).init(conv3x3::Kernel, &device);
/// let y = layer.forward(Tensor::<4>::ones([2, 3, 12, 12], &device));
/// assert_eq!(y.dims(), [2, 8, 12, 12]);
/// ```
#[derive(Config, Debug)]
pub struct ConvLayerConfig {
    /// The weight's shape, e.g. `[channels_out, channels_in, 3, 3]` for a 2-D convolution
    /// in PyTorch's layout.
    pub weight_shape: Vec<usize>,
    /// Whether the layer has a bias (the kernel must declare one).
    #[config(default = true)]
    pub bias: bool,
    /// How the weight and the bias are initialised; burn's convolutions' default (Kaiming
    /// uniform with gain 1/sqrt(3), PyTorch's too), with the fan-in the product of the
    /// weight's axes after the first.
    #[config(default = "Initializer::KaimingUniform{gain:0.5773502691896258,fan_out_only:false}")]
    pub initializer: Initializer,
}

/// A layer computing `kernel(x, weight) + bias`: a generated kernel of two operands, the
/// input and the weight, with the weight and the optional bias as burn parameters, so
/// it can sit in a `#[derive(Module)]` model, be trained by burn's optimisers and saved
/// with its records. Forward and backward are the kernel's own; see
/// [`apply`](crate::apply).
///
/// `D` is the rank of the input, the weight and the result, the same for the PyTorch
/// layouts of 1-D, 2-D and 3-D convolutions (`D` = 3, 4, 5) and of depthwise ones written
/// with the weight `(C, 1, K..)`, e.g. `"nchwkj,cekj->nchw"`. For other ranks, call
/// [`apply`](crate::apply) with [`ConvLayer::weight`].
#[derive(Module, Debug)]
pub struct ConvLayer<K: BurnKernel, const D: usize> {
    /// The kernel's second operand.
    pub weight: Param<Tensor<D>>,
    /// The bias, along the kernel's bias axis.
    pub bias: Option<Param<Tensor<1>>>,
    /// The generated kernel (a unit type).
    #[module(skip)]
    pub kernel: K,
}

impl ConvLayerConfig {
    /// A layer running `kernel`, its parameters on `device`.
    ///
    /// # Panics
    ///
    /// If the kernel does not take two operands, if `weight_shape` does not have `D`
    /// axes or the kernel's weight another number, or if the config asks for a bias and
    /// the kernel declares none (or declares one along an axis the weight does not have).
    pub fn init<K: BurnKernel, const D: usize>(
        &self,
        kernel: K,
        device: &Device,
    ) -> ConvLayer<K, D> {
        let k = kernel.facts().kernel();
        assert_eq!(
            k.operands.len(),
            2,
            "conv-burn: a ConvLayer runs a kernel of two operands (input, weight); {} has {}",
            k.name,
            k.operands.len()
        );
        let weight_axes = &k.operands[1].physical;
        assert!(
            self.weight_shape.len() == D && weight_axes.len() == D,
            "conv-burn: weight shape {:?} for a ConvLayer of rank {D}, kernel {}'s weight has {} axes",
            self.weight_shape,
            k.name,
            weight_axes.len()
        );
        let fan_in: usize = self.weight_shape[1..].iter().product();
        let fan_out = self.weight_shape[0] * self.weight_shape[2..].iter().product::<usize>();
        let weight = self.initializer.init_with(
            self.weight_shape.clone(),
            Some(fan_in),
            Some(fan_out),
            device,
        );
        let bias = self.bias.then(|| {
            let axis = k.bias.unwrap_or_else(|| {
                panic!("conv-burn: the config asks for a bias, kernel {} declares none", k.name)
            });
            let at = weight_axes.iter().position(|&a| a == axis).unwrap_or_else(|| {
                panic!(
                    "conv-burn: kernel {}'s bias axis '{axis}' is not an axis of its weight, whose shape gives the bias's length",
                    k.name
                )
            });
            self.initializer.init_with(
                [self.weight_shape[at]],
                Some(fan_in),
                Some(fan_out),
                device,
            )
        });
        ConvLayer {
            weight,
            bias,
            kernel,
        }
    }
}

impl<K: BurnKernel, const D: usize> ConvLayer<K, D> {
    /// The kernel applied to `x`, the weight and the bias, or the first shape that does
    /// not fit.
    pub fn try_forward(&self, x: Tensor<D>) -> Result<Tensor<D>, ShapeError> {
        crate::try_apply(
            self.kernel,
            x,
            self.weight.val(),
            self.bias.as_ref().map(|b| b.val()),
        )
    }

    /// The kernel applied to `x`, the weight and the bias.
    ///
    /// # Panics
    ///
    /// On a shape that does not fit (with the [`ShapeError`]'s message), and as
    /// [`apply`](crate::apply) does.
    pub fn forward(&self, x: Tensor<D>) -> Tensor<D> {
        self.try_forward(x).unwrap_or_else(|e| panic!("{e}"))
    }
}
