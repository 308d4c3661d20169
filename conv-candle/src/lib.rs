//! Generated conv-kernels as [candle](https://github.com/huggingface/candle) operations,
//! gradients included.
//!
//! [`apply`] runs the forward pass of any kernel made by
//! [`conv_kernel!`](conv_runtime::conv_kernel) on candle tensors, as a candle custom
//! operation (`CustomOp2` for `x, weight`, `CustomOp3` with a bias). Its backward pass
//! runs the kernel's derived gradients (`Kernel::gradient_dyn`), each as a custom
//! operation of its own, so `loss.backward()` reaches every operand and the bias, and
//! the gradients stay on candle's graph: with `CANDLE_GRAD_DO_NOT_DETACH=1` they can be
//! differentiated again (double backward, composed from the same passes).
//! [`ConvLayer`] is a ready layer implementing candle-nn's [`Module`].
//!
//! The kernels run on the CPU, on `f32` or `f64` as the kernel's `dtype` says. The
//! operands are read in place from candle's storage as ndarray views with candle's
//! strides (contiguous, transposed, narrowed or broadcast tensors alike; nothing is
//! copied), and the result is moved into candle's storage without a copy. Wrong shapes,
//! ranks, dtypes, operand counts and tensors on another device are candle errors, never
//! panics; a shape error carries the kernel's own [`ShapeError`] text.
//!
//! # Example
//!
//! ```
//! use candle_core::{DType, Device, Tensor, Var};
//! use conv_runtime::conv_kernel;
//!
//! conv_kernel! {
//!     /// 3x3 convolution, stride 2, zero padding 1, with a bias.
//!     pub conv(x, weight) = "nchwkj,dckj->ndhw" {
//!         unfold x.h by k, stride = 2, pad = 1;
//!         unfold x.w by j, stride = 2, pad = 1;
//!         bias d;
//!     }
//! }
//!
//! # fn main() -> candle_core::Result<()> {
//! let x = Tensor::randn(0f32, 1., (2, 3, 8, 8), &Device::Cpu)?;
//! let w = Var::randn(0f32, 1., (4, 3, 3, 3), &Device::Cpu)?;
//! let b = Var::zeros(4, DType::F32, &Device::Cpu)?;
//! let y = conv_candle::apply::<conv::Kernel>(&x, &w, Some(&b))?;
//! assert_eq!(y.dims(), [2, 4, 4, 4]);
//! // The same as candle's own convolution.
//! let theirs = x.conv2d(&w, 1, 2, 1, 1)?;
//! assert!(y.sub(&theirs)?.abs()?.max_all()?.to_scalar::<f32>()? < 1e-4);
//! // Gradients through candle's autograd, from the derived kernels.
//! let grads = y.sqr()?.sum_all()?.backward()?;
//! assert_eq!(grads.get(&w).unwrap().dims(), [4, 3, 3, 3]);
//! assert_eq!(grads.get(&b).unwrap().dims(), [4]);
//! # Ok(())
//! # }
//! ```

use candle_core::backend::BackendStorage;
use candle_core::{
    CpuStorage, CudaStorage, CustomOp1, CustomOp2, CustomOp3, Device, Error, Layout, MetalStorage,
    Result, Shape, Tensor, WithDType,
};
use candle_nn::{Init, Module, VarBuilder};
use conv_runtime::model::kernel::Kernel as Declaration;
use conv_runtime::{Kernel, ShapeError, Wrt};
use ndarray::{ArrayD, ArrayViewD, IxDyn, ShapeBuilder};
use std::fmt::Display;
use std::marker::PhantomData;

/// What a kernel type must be to run as a candle operation: every generated module's
/// `Kernel` type is one (a unit type; `f32` and `f64` are candle dtypes).
pub trait CandleKernel: Kernel<Elem = Self::Dtype> + Default + Send + Sync + 'static {
    /// The kernel's element type, as candle knows it.
    type Dtype: WithDType + conv_runtime::Element;
}

impl<K> CandleKernel for K
where
    K: Kernel + Default + Send + Sync + 'static,
    K::Elem: WithDType,
{
    type Dtype = K::Elem;
}

/// The forward pass of a two-operand kernel (`x`, `weight`), with its bias if it has
/// one, as a candle operation whose backward pass runs the kernel's derived gradients.
///
/// `bias` must be `None` for a kernel without `bias`; for a kernel with one, `None` is a
/// zero bias. Tensors are read in place whatever their strides. Errors (never panics):
/// a kernel of another operand count, a tensor on a device other than the CPU, a dtype
/// other than the kernel's, and any shape or rank the kernel refuses (the message then
/// carries the kernel's [`ShapeError`]).
pub fn apply<K: CandleKernel>(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
) -> Result<Tensor> {
    apply_all::<K>(&[x, weight], bias)
}

/// [`apply`] for a kernel of one operand (pooling, a fold of one signal, ...).
pub fn apply1<K: CandleKernel>(x: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    apply_all::<K>(&[x], bias)
}

/// [`apply`] for any number of operands, in the order of the kernel's operand list.
/// candle's custom operations take at most three tensors: the operands and the bias
/// together must be at most three.
pub fn apply_all<K: CandleKernel>(operands: &[&Tensor], bias: Option<&Tensor>) -> Result<Tensor> {
    let kernel = K::default();
    let declared = declaration(&kernel);
    let name = declared.name.as_str();
    if operands.len() != declared.operands.len() {
        return Err(error(
            name,
            format!(
                "takes {} operand{} ({}), given {}",
                declared.operands.len(),
                if declared.operands.len() == 1 {
                    ""
                } else {
                    "s"
                },
                operand_names(declared),
                operands.len()
            ),
        ));
    }
    if bias.is_some() && declared.bias.is_none() {
        return Err(error(
            name,
            "given a bias, but the kernel declares none (`bias AXIS;`)",
        ));
    }
    let mut inputs: Vec<&Tensor> = operands.to_vec();
    inputs.extend(bias);
    for (slot, tensor) in inputs.iter().enumerate() {
        let what = slot_name(declared, slot);
        check_tensor::<K>(name, &what, tensor)?;
    }
    let op = Forward {
        kernel,
        bias: bias.is_some(),
    };
    run_op(op, &inputs)
}

/// A layer for the common case: a kernel of `x` and `weight`, with the weight (and the
/// bias, if the kernel declares one) held by the layer, as `candle_nn::Conv2d` holds
/// them. Implements candle-nn's [`Module`]: `layer.forward(&x)` is
/// [`apply::<K>(x, weight, bias)`](apply).
///
/// The tensors are in the layout of the kernel's spec: for `"nchwkj,dckj->ndhw"`,
/// PyTorch's `(N, C, H, W)` and `(D, C, KH, KW)`.
#[derive(Clone, Debug)]
pub struct ConvLayer<K> {
    weight: Tensor,
    bias: Option<Tensor>,
    kernel: PhantomData<fn() -> K>,
}

impl<K: CandleKernel> ConvLayer<K> {
    /// A layer of these tensors (`Var`s deref to tensors: pass `var.as_tensor().clone()`
    /// to train them). Checks the operand count, the dtype and the device; shapes are
    /// checked when the layer runs.
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Result<Self> {
        let kernel = K::default();
        let declared = declaration(&kernel);
        let name = declared.name.as_str();
        if declared.operands.len() != 2 {
            return Err(error(
                name,
                format!(
                    "a ConvLayer needs a kernel of two operands (x, weight); this one takes {}",
                    operand_names(declared)
                ),
            ));
        }
        if bias.is_some() && declared.bias.is_none() {
            return Err(error(
                name,
                "given a bias, but the kernel declares none (`bias AXIS;`)",
            ));
        }
        check_tensor::<K>(name, &declared.operands[1].name, &weight)?;
        if let Some(bias) = &bias {
            check_tensor::<K>(name, "bias", bias)?;
        }
        Ok(ConvLayer {
            weight,
            bias,
            kernel: PhantomData,
        })
    }

    /// A layer whose weight (named `weight`) and bias (`bias`, if the kernel declares
    /// one) come from a `VarBuilder`, initialised as PyTorch initialises its convolutions
    /// (and candle-nn its linear layers): uniform in `±1/sqrt(fan_in)`, `fan_in` being the
    /// product of the weight's extents along the axes the kernel sums over (`c, k, j` for
    /// `dckj`; `k, j` for a depthwise `ckj`). The bias's length is the weight's extent
    /// along the bias axis. The `VarBuilder`'s dtype must be the kernel's.
    pub fn init(vb: VarBuilder, weight_shape: &[usize]) -> Result<Self> {
        let kernel = K::default();
        let declared = declaration(&kernel);
        let name = declared.name.as_str();
        let Some(weight_axes) = declared.operands.get(1).map(|o| &o.physical) else {
            return Self::new(Tensor::zeros(0, vb.dtype(), vb.device())?, None);
        };
        if weight_axes.len() != weight_shape.len() {
            return Err(error(
                name,
                format!(
                    "{}: a weight shape of {} axes, expected {} ({})",
                    declared.operands[1].name,
                    weight_shape.len(),
                    weight_axes.len(),
                    weight_axes.iter().collect::<String>()
                ),
            ));
        }
        let summed = declared.summed_axes();
        let fan_in: usize = weight_axes
            .iter()
            .zip(weight_shape)
            .filter(|(axis, _)| summed.contains(axis))
            .map(|(_, &extent)| extent)
            .product();
        let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
        let uniform = Init::Uniform {
            lo: -bound,
            up: bound,
        };
        let weight = vb.get_with_hints(weight_shape, "weight", uniform)?;
        let bias = match declared.bias {
            None => None,
            Some(axis) => {
                let Some(at) = weight_axes.iter().position(|&a| a == axis) else {
                    return Err(error(
                        name,
                        format!(
                            "the bias axis '{axis}' is not an axis of {}, so its length is not known here: build the layer with ConvLayer::new",
                            declared.operands[1].name
                        ),
                    ));
                };
                Some(vb.get_with_hints(weight_shape[at], "bias", uniform)?)
            }
        };
        Self::new(weight, bias)
    }

    /// The weight.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias, if the layer has one.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }
}

impl<K: CandleKernel> Module for ConvLayer<K> {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        apply::<K>(x, &self.weight, self.bias.as_ref())
    }
}

// ---------------------------------------------------------------------------------------
// The operations.

/// The forward pass. Inputs: the operands, then the bias if `bias`.
struct Forward<K> {
    kernel: K,
    bias: bool,
}

/// The gradient of `<y, grad_y>` with respect to `wrt`. Inputs: the operands other than
/// `wrt` (none for the bias), in order, then `grad_y`. `shapes` are every operand's.
struct Gradient<K> {
    kernel: K,
    wrt: Wrt,
    shapes: Vec<Vec<usize>>,
}

/// An operation of 1 to 3 tensors, run on the CPU, differentiated by `backward`.
trait Op: Sized + Send + Sync + 'static {
    fn op_name(&self) -> &'static str;
    fn cpu(&self, inputs: &[(&CpuStorage, &Layout)]) -> Result<(CpuStorage, Shape)>;
    /// The gradient of every input, `None` where it is not needed.
    fn backward(&self, args: &[&Tensor], grad: &Tensor) -> Result<Vec<Option<Tensor>>>;
}

impl<K: CandleKernel> Op for Forward<K> {
    fn op_name(&self) -> &'static str {
        &declaration(&self.kernel).name
    }

    fn cpu(&self, inputs: &[(&CpuStorage, &Layout)]) -> Result<(CpuStorage, Shape)> {
        let declared = declaration(&self.kernel);
        let name = self.op_name();
        let views = inputs
            .iter()
            .enumerate()
            .map(|(slot, (s, l))| view::<K::Dtype>(name, &slot_name(declared, slot), s, l))
            .collect::<Result<Vec<_>>>()?;
        let (operands, bias) = match self.bias {
            true => (&views[..views.len() - 1], views.last().cloned()),
            false => (&views[..], None),
        };
        let y = self
            .kernel
            .forward_dyn(operands, bias)
            .map_err(|e| shape_error(name, e))?;
        Ok(into_storage(y))
    }

    fn backward(&self, args: &[&Tensor], grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let n = args.len() - usize::from(self.bias);
        let shapes: Vec<Vec<usize>> = args[..n].iter().map(|t| t.dims().to_vec()).collect();
        let mut grads = Vec::with_capacity(args.len());
        for i in 0..n {
            grads.push(if args[i].track_op() {
                let mut inputs: Vec<&Tensor> =
                    (0..n).filter(|&j| j != i).map(|j| args[j]).collect();
                inputs.push(grad);
                Some(self.gradient(Wrt::Operand(i), &shapes, &inputs)?)
            } else {
                None
            });
        }
        if self.bias {
            grads.push(if args[n].track_op() {
                Some(self.gradient(Wrt::Bias, &shapes, &[grad])?)
            } else {
                None
            });
        }
        Ok(grads)
    }
}

impl<K: CandleKernel> Forward<K> {
    fn gradient(&self, wrt: Wrt, shapes: &[Vec<usize>], inputs: &[&Tensor]) -> Result<Tensor> {
        let op = Gradient {
            kernel: K::default(),
            wrt,
            shapes: shapes.to_vec(),
        };
        run_op(op, inputs)
    }
}

impl<K: CandleKernel> Gradient<K> {
    /// Whether operand `i` is an input of this gradient.
    fn has(&self, i: usize) -> bool {
        match self.wrt {
            Wrt::Operand(w) => w != i,
            Wrt::Bias => false,
        }
    }
}

impl<K: CandleKernel> Op for Gradient<K> {
    fn op_name(&self) -> &'static str {
        &declaration(&self.kernel).name
    }

    fn cpu(&self, inputs: &[(&CpuStorage, &Layout)]) -> Result<(CpuStorage, Shape)> {
        let declared = declaration(&self.kernel);
        let name = self.op_name();
        // The operand the gradient is for is given by its shape alone: a view of one
        // zero, broadcast (its values are not read).
        let zero = [K::Dtype::default()];
        let mut given = inputs.iter();
        let mut operands = Vec::with_capacity(self.shapes.len());
        for (i, shape) in self.shapes.iter().enumerate() {
            operands.push(if self.has(i) {
                let (s, l) = given.next().ok_or_else(|| error(name, "too few inputs"))?;
                view::<K::Dtype>(name, &declared.operands[i].name, s, l)?
            } else {
                ArrayViewD::from_shape(
                    IxDyn(shape).strides(IxDyn(&vec![0; shape.len()])),
                    &zero[..],
                )
                .map_err(|e| error(name, e))?
            });
        }
        let (s, l) = given.next().ok_or_else(|| error(name, "too few inputs"))?;
        let grad_y = view::<K::Dtype>(name, "grad_y", s, l)?;
        let g = self
            .kernel
            .gradient_dyn(self.wrt, &operands, grad_y)
            .map_err(|e| shape_error(name, e))?;
        Ok(into_storage(g))
    }

    /// The gradient of `<g, c>`, `g` this gradient and `c` the cotangent `grad`, with
    /// respect to its inputs. The kernel is multilinear in its operands, so
    /// `<grad_i(o, g), c> = <g, f(o with o_i := c)>`: with respect to `grad_y` this is
    /// the forward pass with `c` in operand `i`'s place, and with respect to another
    /// operand `j` it is `grad_j` of those operands. For the bias's gradient (a sum of
    /// `grad_y` over every other axis), `c` broadcast along the bias axis.
    fn backward(&self, args: &[&Tensor], grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let (grad_y, given) = args.split_last().expect("grad_y is an input");
        let i = match self.wrt {
            Wrt::Operand(i) => i,
            Wrt::Bias => {
                if !grad_y.track_op() {
                    return Ok(vec![None]);
                }
                let declared = declaration(&self.kernel);
                let axis = declared
                    .bias
                    .expect("a kernel with a bias gradient has a bias");
                let at = declared.output.iter().position(|&a| a == axis);
                let mut dims = vec![1; grad_y.rank()];
                let at =
                    at.ok_or_else(|| error(self.op_name(), "the bias axis is not an output axis"))?;
                dims[at] = grad.elem_count();
                return Ok(vec![Some(
                    grad.reshape(dims)?.broadcast_as(grad_y.shape())?,
                )]);
            }
        };
        // Every operand, with the cotangent in operand i's place.
        let mut operands: Vec<&Tensor> = Vec::with_capacity(self.shapes.len());
        let mut rest = given.iter();
        for j in 0..self.shapes.len() {
            operands.push(if j == i {
                grad
            } else {
                rest.next().expect("operand j")
            });
        }
        let mut grads = Vec::with_capacity(args.len());
        for j in (0..self.shapes.len()).filter(|&j| j != i) {
            grads.push(if operands[j].track_op() {
                let mut inputs: Vec<&Tensor> = (0..operands.len())
                    .filter(|&k| k != j)
                    .map(|k| operands[k])
                    .collect();
                inputs.push(grad_y);
                let op = Gradient {
                    kernel: K::default(),
                    wrt: Wrt::Operand(j),
                    shapes: self.shapes.clone(),
                };
                Some(run_op(op, &inputs)?)
            } else {
                None
            });
        }
        grads.push(if grad_y.track_op() {
            let op = Forward {
                kernel: K::default(),
                bias: false,
            };
            Some(run_op(op, &operands)?)
        } else {
            None
        });
        Ok(grads)
    }
}

/// Runs `op` on 1 to 3 tensors as candle's `CustomOp1`, `CustomOp2` or `CustomOp3`.
fn run_op<O>(op: O, inputs: &[&Tensor]) -> Result<Tensor>
where
    O: Op + CustomOp1 + CustomOp2 + CustomOp3,
{
    match *inputs {
        [a] => a.apply_op1(op),
        [a, b] => a.apply_op2(b, op),
        [a, b, c] => a.apply_op3(b, c, op),
        _ => Err(error(
            op.op_name(),
            format!(
                "{} tensors: candle's custom operations take 1 to 3 (operands and bias together)",
                inputs.len()
            ),
        )),
    }
}

macro_rules! custom_ops {
    ($op:ident) => {
        impl<K: CandleKernel> CustomOp1 for $op<K> {
            fn name(&self) -> &'static str {
                self.op_name()
            }
            fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout) -> Result<(CpuStorage, Shape)> {
                self.cpu(&[(s1, l1)])
            }
            fn cuda_fwd(&self, _: &CudaStorage, _: &Layout) -> Result<(CudaStorage, Shape)> {
                Err(not_on_cpu(self.op_name(), "the operands", "a CUDA device"))
            }
            fn metal_fwd(&self, _: &MetalStorage, _: &Layout) -> Result<(MetalStorage, Shape)> {
                Err(not_on_cpu(self.op_name(), "the operands", "a Metal device"))
            }
            fn bwd(&self, a1: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
                let [g1]: [Option<Tensor>; 1] =
                    self.backward(&[a1], grad)?.try_into().expect("1 gradient");
                Ok(g1)
            }
        }

        impl<K: CandleKernel> CustomOp2 for $op<K> {
            fn name(&self) -> &'static str {
                self.op_name()
            }
            fn cpu_fwd(
                &self,
                s1: &CpuStorage,
                l1: &Layout,
                s2: &CpuStorage,
                l2: &Layout,
            ) -> Result<(CpuStorage, Shape)> {
                self.cpu(&[(s1, l1), (s2, l2)])
            }
            fn cuda_fwd(
                &self,
                _: &CudaStorage,
                _: &Layout,
                _: &CudaStorage,
                _: &Layout,
            ) -> Result<(CudaStorage, Shape)> {
                Err(not_on_cpu(self.op_name(), "the operands", "a CUDA device"))
            }
            fn metal_fwd(
                &self,
                _: &MetalStorage,
                _: &Layout,
                _: &MetalStorage,
                _: &Layout,
            ) -> Result<(MetalStorage, Shape)> {
                Err(not_on_cpu(self.op_name(), "the operands", "a Metal device"))
            }
            fn bwd(
                &self,
                a1: &Tensor,
                a2: &Tensor,
                _res: &Tensor,
                grad: &Tensor,
            ) -> Result<(Option<Tensor>, Option<Tensor>)> {
                let [g1, g2]: [Option<Tensor>; 2] = self
                    .backward(&[a1, a2], grad)?
                    .try_into()
                    .expect("2 gradients");
                Ok((g1, g2))
            }
        }

        impl<K: CandleKernel> CustomOp3 for $op<K> {
            fn name(&self) -> &'static str {
                self.op_name()
            }
            fn cpu_fwd(
                &self,
                s1: &CpuStorage,
                l1: &Layout,
                s2: &CpuStorage,
                l2: &Layout,
                s3: &CpuStorage,
                l3: &Layout,
            ) -> Result<(CpuStorage, Shape)> {
                self.cpu(&[(s1, l1), (s2, l2), (s3, l3)])
            }
            fn cuda_fwd(
                &self,
                _: &CudaStorage,
                _: &Layout,
                _: &CudaStorage,
                _: &Layout,
                _: &CudaStorage,
                _: &Layout,
            ) -> Result<(CudaStorage, Shape)> {
                Err(not_on_cpu(self.op_name(), "the operands", "a CUDA device"))
            }
            fn metal_fwd(
                &self,
                _: &MetalStorage,
                _: &Layout,
                _: &MetalStorage,
                _: &Layout,
                _: &MetalStorage,
                _: &Layout,
            ) -> Result<(MetalStorage, Shape)> {
                Err(not_on_cpu(self.op_name(), "the operands", "a Metal device"))
            }
            fn bwd(
                &self,
                a1: &Tensor,
                a2: &Tensor,
                a3: &Tensor,
                _res: &Tensor,
                grad: &Tensor,
            ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
                let [g1, g2, g3]: [Option<Tensor>; 3] = self
                    .backward(&[a1, a2, a3], grad)?
                    .try_into()
                    .expect("3 gradients");
                Ok((g1, g2, g3))
            }
        }
    };
}

custom_ops!(Forward);
custom_ops!(Gradient);

// ---------------------------------------------------------------------------------------
// Helpers.

fn declaration<K: Kernel>(kernel: &K) -> &'static Declaration {
    kernel.facts().kernel()
}

fn operand_names(declared: &Declaration) -> String {
    let names: Vec<&str> = declared.operands.iter().map(|o| o.name.as_str()).collect();
    names.join(", ")
}

/// The name of input slot `slot` of the forward pass: an operand's, or `bias`.
fn slot_name(declared: &Declaration, slot: usize) -> String {
    match declared.operands.get(slot) {
        Some(operand) => operand.name.clone(),
        None => "bias".to_string(),
    }
}

fn error(kernel: &str, message: impl Display) -> Error {
    Error::Msg(format!("conv-candle: kernel `{kernel}`: {message}")).bt()
}

fn shape_error(kernel: &str, e: ShapeError) -> Error {
    error(kernel, e)
}

fn not_on_cpu(kernel: &str, what: &str, place: &str) -> Error {
    error(
        kernel,
        format!(
            "{what} {} on {place}, but generated kernels run on the CPU only: move {} there with `.to_device(&Device::Cpu)`",
            if what.ends_with('s') { "are" } else { "is" },
            if what.ends_with('s') { "them" } else { "it" },
        ),
    )
}

/// Errors unless `tensor` is on the CPU and holds the kernel's element type.
fn check_tensor<K: CandleKernel>(kernel: &str, what: &str, tensor: &Tensor) -> Result<()> {
    check_device(kernel, what, tensor.device())?;
    let want = <K::Dtype as WithDType>::DTYPE;
    if tensor.dtype() != want {
        return Err(error(
            kernel,
            format!(
                "{what} is {:?} but the kernel runs on {:?} (its `dtype`): convert it with `.to_dtype(DType::{want:?})`",
                tensor.dtype(),
                want
            ),
        ));
    }
    Ok(())
}

/// Errors, saying so, unless `device` is the CPU.
fn check_device(kernel: &str, what: &str, device: &Device) -> Result<()> {
    match device {
        Device::Cpu => Ok(()),
        Device::Cuda(_) => Err(not_on_cpu(kernel, what, "a CUDA device")),
        Device::Metal(_) => Err(not_on_cpu(kernel, what, "a Metal device")),
    }
}

/// candle's storage and layout as an ndarray view: no copy, candle's strides and offset.
fn view<'a, T: WithDType>(
    kernel: &str,
    what: &str,
    storage: &'a CpuStorage,
    layout: &Layout,
) -> Result<ArrayViewD<'a, T>> {
    let data: &[T] = storage.as_slice::<T>().map_err(|_| {
        error(
            kernel,
            format!(
                "{what} is {:?} but the kernel runs on {:?} (its `dtype`)",
                storage.dtype(),
                T::DTYPE
            ),
        )
    })?;
    let data = data
        .get(layout.start_offset()..)
        .ok_or_else(|| error(kernel, format!("{what}: offset past its storage")))?;
    let shape = IxDyn(layout.dims()).strides(IxDyn(layout.stride()));
    ArrayViewD::from_shape(shape, data).map_err(|e| {
        error(
            kernel,
            format!("{what}: layout {layout:?} does not fit its storage: {e}"),
        )
    })
}

/// A result as candle's storage and shape, its buffer moved, not copied.
fn into_storage<T: WithDType>(y: ArrayD<T>) -> (CpuStorage, Shape) {
    let shape = Shape::from(y.shape().to_vec());
    let count = y.len();
    let y = if y.is_standard_layout() {
        y
    } else {
        y.as_standard_layout().into_owned()
    };
    let (mut data, offset) = y.into_raw_vec_and_offset();
    let offset = offset.unwrap_or(0);
    if offset != 0 || data.len() != count {
        data = data[offset..offset + count].to_vec();
    }
    (T::to_cpu_storage_owned(data), shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{CudaDevice, MetalDevice};

    #[test]
    fn other_devices_are_refused_with_a_clear_message() {
        let cuda = check_device("conv", "x", &Device::Cuda(CudaDevice)).unwrap_err();
        // (With RUST_BACKTRACE set, candle's errors carry a backtrace after the message.)
        assert!(cuda.to_string().starts_with(
            "conv-candle: kernel `conv`: x is on a CUDA device, but generated kernels run on the CPU only: move it there with `.to_device(&Device::Cpu)`"
        ));
        let metal = check_device("conv", "weight", &Device::Metal(MetalDevice)).unwrap_err();
        assert!(metal.to_string().contains("weight is on a Metal device"));
    }
}
