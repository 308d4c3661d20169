"""Fake conv1d/2d/3d and conv_transpose1d/2d/3d: argument checks and PyTorch's
output-shape rules."""

from torch import Tensor


def _conv(dims, x, w, b, stride=1, padding=0, dilation=1, groups=1):
    assert len(x.shape) == dims + 2 and len(w.shape) == dims + 2, (x.shape, w.shape)
    assert x.shape[1] == w.shape[1] * groups and w.shape[0] % groups == 0, (x.shape, w.shape)
    assert b.shape == (w.shape[0],), b.shape
    spatial = [
        (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1
        for n, k in zip(x.shape[2:], w.shape[2:])
    ]
    assert all(s > 0 for s in spatial), spatial
    y = Tensor([x.shape[0], w.shape[0], *spatial])
    y._inputs = [t for t in (x, w, b) if t.requires_grad]
    return y


def conv1d(*args, **kwargs):
    return _conv(1, *args, **kwargs)


def conv2d(*args, **kwargs):
    return _conv(2, *args, **kwargs)


def conv3d(*args, **kwargs):
    return _conv(3, *args, **kwargs)


def _conv_transpose(
    dims, x, w, b, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    # Weight (Cin, Cout / groups, taps...); the output's length by PyTorch's rule.
    assert len(x.shape) == dims + 2 and len(w.shape) == dims + 2, (x.shape, w.shape)
    assert x.shape[1] == w.shape[0] and w.shape[0] % groups == 0, (x.shape, w.shape, groups)
    assert b.shape == (w.shape[1] * groups,), (b.shape, w.shape, groups)
    assert output_padding < stride or output_padding < dilation, (output_padding, stride)
    spatial = [
        (n - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1
        for n, k in zip(x.shape[2:], w.shape[2:])
    ]
    assert all(s > 0 for s in spatial), spatial
    y = Tensor([x.shape[0], w.shape[1] * groups, *spatial])
    y._inputs = [t for t in (x, w, b) if t.requires_grad]
    return y


def conv_transpose1d(*args, **kwargs):
    return _conv_transpose(1, *args, **kwargs)


def conv_transpose2d(*args, **kwargs):
    return _conv_transpose(2, *args, **kwargs)


def conv_transpose3d(*args, **kwargs):
    return _conv_transpose(3, *args, **kwargs)
