"""A simulated GPU, to catch device-unsafe code on a machine without one.

Inside `simulated_gpu()`, a tensor asked for on 'cuda' is really computed on the
CPU but says it lives on 'cuda', and mixing it with an ordinary CPU tensor
raises the same error as a real GPU would. Values are real, so code runs
exactly as it would on a GPU: only the device bookkeeping is simulated.

Like CUDA, a 0-dimensional CPU tensor may be combined with a GPU tensor, and
a GPU tensor may be indexed with CPU indices. It also enforces the rules that only
a real GPU checks (each raises the error a real GPU raises):

- a CPU tensor cannot be indexed with GPU indices;
- a random draw onto the GPU (`device='cuda'`, or from GPU tensors) needs a CUDA
  `torch.Generator`, and a draw onto the CPU a CPU one (`SimulatedCudaGenerator`
  stands for a CUDA generator);
- `pack_padded_sequence` wants its `lengths` on the CPU, whatever the device of
  the data; a packed sequence keeps its batch sizes on the CPU, and
  `pad_packed_sequence` returns the lengths on the CPU.

PyTorch's own modules (`nn.LSTM`, `nn.GRU`, `nn.RNN`, packed or not) run on it:
`model.to('cuda')` moves their parameters as it would to a real GPU.
"""

import torch
from torch.overrides import TorchFunctionMode
from torch.utils import _pytree as pytree

from rnncourse.observing import RecordedMode

CUDA = torch.device("cuda", 0)
MISMATCH = (
    "Expected all tensors to be on the same device, but found at least two devices, "
    "cuda:0 and cpu! (simulated GPU, in {})"
)
GPU_INDICES = (
    "indices should be either on cpu or on the same device as the indexed tensor (cpu) "
    "(simulated GPU)"
)
_GRAD = torch.Tensor.grad.__get__  # a new method-wrapper at each access: compare with ==
# Calls whose argument 1 PyTorch keeps on the CPU whatever the data's device: a packed
# sequence's lengths or batch sizes (the RNN functions take batch sizes there when packed).
_CPU_ARGUMENT_1 = {
    "_pack_padded_sequence",
    "_pad_packed_sequence",
    "lstm",
    "gru",
    "rnn_tanh",
    "rnn_relu",
}


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


class SimulatedCudaGenerator(torch.Generator):
    """A CPU generator that reports 'cuda' as its device."""

    @property
    def device(self):
        return CUDA


def _is_cuda(device) -> bool:
    return isinstance(device, str | torch.device) and torch.device(device).type == "cuda"


def _is_cpu(device) -> bool:
    return isinstance(device, str | torch.device) and torch.device(device).type == "cpu"


def _simulated(value) -> bool:
    return isinstance(value, SimulatedCudaTensor)


def on_device_of(tensor: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """`tensor`, on the simulated GPU if `other` is there: autograd's gradients are plain
    tensors, whatever the device of what they are the gradients of."""
    if _simulated(other) and not _simulated(tensor):
        return tensor.as_subclass(SimulatedCudaTensor)
    return tensor


def _on_gpu(value):
    return pytree.tree_map_only(torch.Tensor, lambda t: t.as_subclass(SimulatedCudaTensor), value)


def _on_cpu(value):
    return pytree.tree_map_only(torch.Tensor, lambda t: t.as_subclass(torch.Tensor), value)


class simulated_gpu(RecordedMode, TorchFunctionMode):
    """Run a block as if a GPU were present: see the module docstring."""

    def spec(self):
        return ["simulated_gpu"]

    def __enter__(self):
        # No cuDNN behind a simulated GPU: PyTorch's RNN modules would look for it, and warn.
        self._cudnn = torch.backends.cudnn.enabled
        torch.backends.cudnn.enabled = False
        return super().__enter__()

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            torch.backends.cudnn.enabled = self._cudnn

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
        if func is torch._has_compatible_shallow_copy_type:
            # A CUDA tensor's type differs from a CPU tensor's: nn.Module.to('cuda') then
            # replaces each parameter instead of changing its data in place.
            return _simulated(args[0]) == _simulated(args[1])

        name = getattr(func, "__name__", "")
        if name == "_pack_padded_sequence" and _simulated(args[1]):
            lengths = args[1]
            raise RuntimeError(
                "'lengths' argument should be a 1D CPU int64 tensor, but got "
                f"{lengths.dim()}D cuda:0 {lengths.type().split('.')[-1][: -len('Tensor')]} "
                "tensor (simulated GPU)"
            )
        self._check_generator(args, kwargs, to_gpu)
        self._check_same_device(func, args, kwargs, name)
        out = func(*args, **kwargs)
        if func == _GRAD and _simulated(args[0]):
            return _on_gpu(out)  # autograd writes plain tensors; a GPU tensor's grad is on the GPU
        if name in ("_pack_padded_sequence", "_pad_packed_sequence"):
            data, on_cpu = out  # (data, batch sizes) or (padded data, lengths)
            return (data, _on_cpu(on_cpu))
        if to_gpu:
            return _on_gpu(out)
        if to_cpu:
            return _on_cpu(out)
        return out

    @staticmethod
    def _check_generator(args, kwargs, to_gpu):
        leaves = pytree.tree_leaves((args, kwargs))
        on = "cuda" if to_gpu or any(_simulated(t) for t in leaves) else "cpu"
        for generator in leaves:
            if isinstance(generator, torch.Generator) and generator.device.type != on:
                raise RuntimeError(
                    f"Expected a '{on}' device type for generator but found "
                    f"'{generator.device.type}' (simulated GPU)"
                )

    @staticmethod
    def _check_same_device(func, args, kwargs, name):
        if func in (torch.Tensor.__getitem__, torch.Tensor.__setitem__):
            indices = pytree.tree_leaves(args[1])
            if not _simulated(args[0]) and any(_simulated(i) and i.dim() > 0 for i in indices):
                raise RuntimeError(GPU_INDICES)
            args = args[:1] + args[2:]  # CPU indices are fine, as on a real GPU
        if name in _CPU_ARGUMENT_1 and len(args) > 1:
            batch_sizes = args[1]
            if isinstance(batch_sizes, torch.Tensor) and batch_sizes.dtype == torch.int64:
                args = args[:1] + args[2:]
        tensors = [t for t in pytree.tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        on_gpu = any(_simulated(t) for t in tensors)
        on_cpu = any(not _simulated(t) and t.dim() > 0 for t in tensors)
        if on_gpu and on_cpu:
            raise RuntimeError(MISMATCH.format(name or func))
