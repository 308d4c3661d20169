"""A stand-in for PyTorch, for tests only: tensors are shapes, convolutions check their
arguments and compute the output shape. With this directory first on PYTHONPATH,
conv-bench/torch_bench.py runs end to end without PyTorch (which CI does not have)."""

import contextlib

__version__ = "fake"
channels_last = "channels_last"
channels_last_3d = "channels_last_3d"
_threads = [1]


class Tensor:
    def __init__(self, shape):
        self.shape = tuple(shape)
        self.grad = None
        self.requires_grad = False

    def permute(self, *dims):
        assert sorted(dims) == list(range(len(self.shape))), dims
        return Tensor(self.shape[d] for d in dims)

    def contiguous(self, memory_format=None):
        expected = {4: channels_last, 5: channels_last_3d}.get(len(self.shape))
        assert memory_format in (None, expected), (memory_format, self.shape)
        return self

    def detach(self):
        return Tensor(self.shape)

    def requires_grad_(self, flag=True):
        self.requires_grad = flag
        return self

    def backward(self, grad):
        assert grad.shape == self.shape, (grad.shape, self.shape)
        for leaf in self._inputs:
            assert leaf.requires_grad
            leaf.grad = Tensor(leaf.shape)


def randn(*size):
    # Like torch.randn: randn(3), randn(3, 4) or randn([3, 4]).
    return Tensor(size[0] if len(size) == 1 and not isinstance(size[0], int) else size)


def randn_like(tensor):
    return Tensor(tensor.shape)


def manual_seed(seed):
    pass


def set_num_threads(threads):
    assert threads >= 1
    _threads[0] = threads


def get_num_threads():
    return _threads[0]


def no_grad():
    return contextlib.nullcontext()
