"""A simulated GPU, to catch device-unsafe code on a machine without one.

Inside `simulated_gpu()`, a tensor asked for on 'cuda' is really computed on the
CPU but says it lives on 'cuda', and mixing it with an ordinary CPU tensor
raises the same error as a real GPU would. Values are real, so code runs
exactly as it would on a GPU: only the device bookkeeping is simulated.

Like CUDA, a 0-dimensional CPU tensor may be combined with a GPU tensor, and
a GPU tensor may be indexed with CPU indices.
"""

import torch
from torch.overrides import TorchFunctionMode
from torch.utils import _pytree as pytree

from rnncourse.observing import RecordedMode

CUDA = torch.device("cuda", 0)
MISMATCH = (
    "Expected all tensors to be on the same device, but found at least two devices, "
    "cuda:0 and cpu! (simulated GPU)"
)


class SimulatedCudaTensor(torch.Tensor):
    """A CPU tensor that reports 'cuda' as its device."""

    @property
    def device(self):
        return CUDA

    @property
    def is_cuda(self):
        return True

    def numpy(self, *args, **kwargs):
        raise TypeError(
            "can't convert cuda:0 device type tensor to numpy. "
            "Use Tensor.cpu() to copy the tensor to host memory first. (simulated GPU)"
        )


def _is_cuda(device) -> bool:
    return isinstance(device, str | torch.device) and torch.device(device).type == "cuda"


def _is_cpu(device) -> bool:
    return isinstance(device, str | torch.device) and torch.device(device).type == "cpu"


def _on_gpu(value):
    return pytree.tree_map_only(torch.Tensor, lambda t: t.as_subclass(SimulatedCudaTensor), value)


def _on_cpu(value):
    return pytree.tree_map_only(torch.Tensor, lambda t: t.as_subclass(torch.Tensor), value)


class simulated_gpu(RecordedMode, TorchFunctionMode):
    """Run a block as if a GPU were present: see the module docstring."""

    def spec(self):
        return ["simulated_gpu"]

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        # Where does the call ask the result to go? (device=..., .to('cuda'), .cuda(), .cpu())
        to_gpu = _is_cuda(kwargs.get("device")) or func is torch.Tensor.cuda
        to_cpu = _is_cpu(kwargs.get("device")) or func is torch.Tensor.cpu
        if "device" in kwargs and (to_gpu or to_cpu):
            kwargs["device"] = "cpu"
        if func is torch.Tensor.to:
            to_gpu = to_gpu or any(_is_cuda(a) for a in args[1:])
            to_cpu = to_cpu or any(_is_cpu(a) for a in args[1:])
            args = tuple("cpu" if _is_cuda(a) else a for a in args)
            other = [a for a in args[1:] if isinstance(a, torch.Tensor)]
            if other:  # x.to(other_tensor) follows other's device
                to_gpu, to_cpu = isinstance(other[0], SimulatedCudaTensor), not to_gpu
        if func is torch.Tensor.cuda:
            func, args = torch.Tensor.clone, args[:1]
            kwargs.pop("device", None)

        self._check_same_device(func, args, kwargs)
        out = func(*args, **kwargs)
        if to_gpu:
            return _on_gpu(out)
        if to_cpu:
            return _on_cpu(out)
        return out

    @staticmethod
    def _check_same_device(func, args, kwargs):
        if func in (torch.Tensor.__getitem__, torch.Tensor.__setitem__):
            args = args[:1] + args[2:]  # CPU indices are fine, as on a real GPU
        tensors = [t for t in pytree.tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        on_gpu = any(isinstance(t, SimulatedCudaTensor) for t in tensors)
        on_cpu = any(not isinstance(t, SimulatedCudaTensor) and t.dim() > 0 for t in tensors)
        if on_gpu and on_cpu:
            raise RuntimeError(MISMATCH)
