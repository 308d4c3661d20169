use candle_core::{DType, Device, Module, Tensor, Var};
use conv_candle::ConvLayer;
use conv_runtime::conv_kernel;

conv_kernel! {
    /// PyTorch's Conv2d(c, d, 3, stride=2, padding=1).
    pub conv(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold x.w by j, stride = 2, pad = 1;
        bias d;
    }
}

fn main() -> candle_core::Result<()> {
    let x = Tensor::randn(0f32, 1.0, (8, 3, 32, 32), &Device::Cpu)?;
    let w = Var::randn(0f32, 0.1, (16, 3, 3, 3), &Device::Cpu)?;
    let b = Var::zeros(16, DType::F32, &Device::Cpu)?;
    let y = conv_candle::apply::<conv::Kernel>(&x, &w, Some(&b))?;
    assert_eq!(y.dims(), [8, 16, 16, 16]);
    // candle's autograd runs the kernel's derived grad_x, grad_weight and grad_bias.
    let grads = y.sqr()?.sum_all()?.backward()?;
    assert_eq!(grads.get(&w).unwrap().dims(), [16, 3, 3, 3]);
    // The same as a candle-nn Module that holds its weight and bias.
    let layer = ConvLayer::<conv::Kernel>::new(w.as_tensor().clone(), Some(b.as_tensor().clone()))?;
    assert_eq!(layer.forward(&x)?.dims(), y.dims());
    Ok(())
}
