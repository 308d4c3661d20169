use burn::tensor::{Device, Tensor};
use conv_burn::{ConvLayer, ConvLayerConfig};
use conv_runtime::conv_kernel;

conv_kernel! {
    /// PyTorch's Conv2d(c, d, 3, stride=2, padding=1).
    pub conv(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold x.w by j, stride = 2, pad = 1;
        bias d;
    }
}

fn main() {
    let device = Device::flex().autodiff(); // or Device::ndarray().autodiff()
    let x = Tensor::<4>::random([8, 3, 32, 32], burn::tensor::Distribution::Default, &device);
    let layer: ConvLayer<conv::Kernel, 4> = ConvLayerConfig::new(vec![16, 3, 3, 3]).init(conv::Kernel, &device);
    let y = layer.forward(x.clone());
    assert_eq!(y.dims(), [8, 16, 16, 16]);
    // burn's autodiff runs the kernel's derived grad_weight and grad_bias (x needs none).
    let grads = y.powi_scalar(2).sum().backward();
    assert_eq!(layer.weight.grad(&grads).unwrap().dims(), [16, 3, 3, 3]);
    // The same kernel as a function, and its shape errors as values.
    let w = Tensor::<4>::zeros([16, 2, 3, 3], &device);
    let error = conv_burn::try_apply::<_, 4, 4, 4>(conv::Kernel, x, w, None).unwrap_err();
    assert_eq!(error.to_string(), "weight: axis 'c' has extent 2, expected 3 (as x.c)");
}
