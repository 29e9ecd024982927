"""Values as plain data, for the grader's checker and a grading kernel to talk.

When work is graded, the checks run in a trusted process (the checker) and call the
student's functions in the student's kernel. Only data crosses between the two: a
JSON header and raw bytes. Reading a message never runs code (no pickle): a tensor
is its dtype, shape and device label plus its bytes; numbers, strings, lists,
tuples and dicts are themselves; anything else stays where it lives and travels as
a handle (a number) that the other side can only ask about.

    frame = [8-byte header length][8-byte blob length][JSON header][blobs]
"""

import json
import math
import struct
from fractions import Fraction

import numpy as np
import torch

# What a frame may hold: a hostile peer must not make the other side allocate freely.
MAX_HEADER = 64 * 2**20
MAX_BLOBS = 1 * 2**30
MAX_DEPTH = 64
DTYPES = {
    str(dtype).removeprefix("torch."): dtype
    for dtype in (
        torch.float16,
        torch.bfloat16,
        torch.float32,
        torch.float64,
        torch.complex64,
        torch.complex128,
        torch.uint8,
        torch.int8,
        torch.int16,
        torch.int32,
        torch.int64,
        torch.bool,
    )
}


class WireError(ValueError):
    """A message that does not follow the format (or breaks its limits)."""


class Handle:
    """A value that stayed on the other side, named by a number."""

    __slots__ = ("id", "kind")

    def __init__(self, id: int, kind: str = "object"):
        self.id, self.kind = int(id), str(kind)[:80]

    def __repr__(self):
        return f"<{self.kind} #{self.id} in the student's kernel>"


# ---------------------------------------------------------------------------
# Frames
# ---------------------------------------------------------------------------


def send(sock, header: dict, blobs: list[bytes] = ()) -> None:
    body = json.dumps(header, allow_nan=False, separators=(",", ":")).encode()
    total = sum(len(b) for b in blobs)
    # One write: the other side wakes up once, with the whole message there.
    sock.sendall(b"".join([struct.pack("<QQ", len(body), total), body, *blobs]))


def _read_exactly(sock, n: int) -> bytearray:
    buffer = bytearray(n)
    view, got = memoryview(buffer), 0
    while got < n:
        read = sock.recv_into(view[got:], n - got)
        if not read:
            raise EOFError("the other side closed the connection")
        got += read
    return buffer


def receive(sock) -> tuple[dict, bytearray]:
    """(header, blob bytes) of the next frame."""
    header_length, blob_length = struct.unpack("<QQ", _read_exactly(sock, 16))
    if header_length > MAX_HEADER or blob_length > MAX_BLOBS:
        raise WireError(f"a message of {header_length + blob_length} bytes is over the limit")
    try:
        header = json.loads(_read_exactly(sock, header_length))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WireError(f"unreadable message: {error}") from None
    if not isinstance(header, dict):
        raise WireError("a message must be a JSON object")
    return header, _read_exactly(sock, blob_length)


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------


class Encoder:
    """Turns a value into JSON-able data plus blobs. Tensors met twice are sent once
    (so the entries of a list that alias each other still do). What is not plain data
    goes to `other`, which each side defines."""

    def __init__(self):
        self.blobs: list[bytes] = []
        self.size = 0
        self.tensors: dict[int, int] = {}  # id(tensor) -> its number in this message
        self.seen: list = []  # keeps encoded tensors alive, so that ids stay unique

    def encode(self, value, depth: int = 0):
        if depth > MAX_DEPTH:
            raise TypeError("the value is nested too deeply")
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int):
            return value if abs(value) < 2**53 else {"t": "int", "v": str(value)}
        if isinstance(value, float):
            return value if math.isfinite(value) else {"t": "float", "v": repr(value)}
        if isinstance(value, torch.Tensor):
            return self._tensor(value)
        if isinstance(value, tuple | list):
            items = [self.encode(v, depth + 1) for v in value]
            return {"t": "tuple" if isinstance(value, tuple) else "list", "v": items}
        if isinstance(value, set | frozenset):
            return {"t": "set", "v": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            return {
                "t": "dict",
                "k": [self.encode(k, depth + 1) for k in value],
                "v": [self.encode(v, depth + 1) for v in value.values()],
            }
        if isinstance(value, torch.dtype):
            return {"t": "dtype", "v": str(value).removeprefix("torch.")}
        if isinstance(value, torch.device):
            return {"t": "device", "v": str(value)}
        if isinstance(value, slice):
            return {
                "t": "slice",
                "v": [self.encode(v, depth + 1) for v in (value.start, value.stop, value.step)],
            }
        if isinstance(value, bytes | bytearray):  # (a file's contents)
            self.size += len(value)
            if self.size > MAX_BLOBS:
                raise TypeError("the bytes are too large to send")
            self.blobs.append(bytes(value))
            return {"t": "bytes", "blob": len(self.blobs) - 1}
        if isinstance(value, Fraction):  # (music21's durations)
            return {"t": "fraction", "v": [str(value.numerator), str(value.denominator)]}
        if isinstance(value, range):
            return {"t": "range", "v": [value.start, value.stop, value.step]}
        if isinstance(value, np.ndarray):  # by value, as a tensor's bytes
            if value.dtype == object:
                raise TypeError("cannot send a NumPy array of Python objects")
            out = self._tensor(torch.tensor(value))  # (a copy: the array may be read-only)
            return {**out, "t": "ndarray"}
        if isinstance(value, np.generic):  # a NumPy number: as the Python number
            return self.encode(value.item(), depth + 1)
        if isinstance(value, Handle):
            return {"t": "handle", "id": value.id, "kind": value.kind}
        if isinstance(value, torch.Generator):  # by value; its new state comes back
            state = self.encode(value.get_state(), depth + 1)
            return {"t": "generator", "device": value.device.type, "state": state}
        return self.other(value, depth)

    def other(self, value, depth: int):
        """Anything that is not plain data: each side decides (a handle, or by value)."""
        raise TypeError(f"cannot send a {type(value).__name__}")

    def _tensor(self, tensor: torch.Tensor):
        key = id(tensor)
        if key in self.tensors:
            return {"t": "same", "n": self.tensors[key]}
        self.tensors[key] = len(self.tensors)
        self.seen.append(tensor)
        device = tensor.device.type  # "cuda" for real and simulated GPUs alike
        data = tensor.detach()
        if data.is_conj():
            data = data.resolve_conj()
        data = torch.Tensor.cpu(data.as_subclass(torch.Tensor))
        dtype = str(data.dtype).removeprefix("torch.")
        if dtype not in DTYPES:
            raise TypeError(f"cannot send a tensor of dtype {data.dtype}")
        # Into a fresh tensor: a one-element view can pass for contiguous with a stride != 1.
        flat = torch.empty(data.numel(), dtype=data.dtype).copy_(data.reshape(-1))
        raw = flat.view(torch.uint8).numpy().tobytes() if data.numel() else b""
        self.size += len(raw)
        if self.size > MAX_BLOBS:
            raise TypeError("the tensors are too large to send")
        self.blobs.append(raw)
        out = {
            "t": "tensor",
            "n": self.tensors[key],
            "dtype": dtype,
            "shape": list(data.shape),
            "device": device,
            "blob": len(self.blobs) - 1,
            "requires_grad": bool(tensor.requires_grad),
            "parameter": isinstance(tensor, torch.nn.Parameter),
        }
        if tensor.is_leaf and tensor.grad is not None:
            out["grad"] = self.encode(tensor.grad, 1)  # (through encode: both sides count it)
        return out


class Decoder:
    """Turns what an Encoder made back into values. It only ever builds plain tensors,
    numbers, strings and containers; handles are passed to `resolve`."""

    def __init__(self, header_blobs: list, data: bytearray):
        self.offsets = []
        position = 0
        for length in header_blobs:
            if not isinstance(length, int) or length < 0:
                raise WireError("bad blob length")
            self.offsets.append((position, length))
            position += length
        if position != len(data):
            raise WireError("the blobs do not add up to the message")
        self.data = data
        self.tensors: dict[int, torch.Tensor] = {}

    def decode(self, value, depth: int = 0):
        if depth > MAX_DEPTH:
            raise WireError("the value is nested too deeply")
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if not isinstance(value, dict) or not isinstance(value.get("t"), str):
            raise WireError(f"not a value: {str(value)[:80]}")
        kind = value["t"]
        if kind in ("list", "tuple"):
            items = [self.decode(v, depth + 1) for v in _list(value.get("v"))]
            return tuple(items) if kind == "tuple" else items
        if kind == "dict":
            keys, values = _list(value.get("k")), _list(value.get("v"))
            if len(keys) != len(values):
                raise WireError("a dict with more keys than values")
            out = {}
            for k, v in zip(keys, values, strict=True):
                key = self.decode(k, depth + 1)
                try:
                    out[key] = self.decode(v, depth + 1)
                except TypeError:  # an unhashable key
                    raise WireError("a dict key that cannot be a key") from None
            return out
        if kind == "set":
            try:
                return {self.decode(v, depth + 1) for v in _list(value.get("v"))}
            except TypeError:
                raise WireError("a set of unhashable values") from None
        if kind == "int":
            text = str(value.get("v"))
            if len(text) > 400:
                raise WireError("an integer too large")
            return int(text)
        if kind == "float":
            if value.get("v") not in ("nan", "inf", "-inf"):
                raise WireError("a bad float")
            return float(value["v"])
        if kind == "tensor":
            return self._tensor(value, depth)
        if kind == "ndarray":
            return self._tensor(value, depth).numpy()
        if kind == "bytes":
            if not isinstance(value.get("blob"), int) or not 0 <= value["blob"] < len(self.offsets):
                raise WireError("bytes without their blob")
            start, length = self.offsets[value["blob"]]
            return bytes(self.data[start : start + length])
        if kind == "fraction":
            parts = _list(value.get("v"))
            if len(parts) != 2 or not all(isinstance(p, str) and len(p) < 400 for p in parts):
                raise WireError("a bad fraction")
            try:
                return Fraction(int(parts[0]), int(parts[1]))
            except (ValueError, ZeroDivisionError):
                raise WireError("a bad fraction") from None
        if kind == "range":
            bounds = _list(value.get("v"))
            if len(bounds) != 3 or not all(isinstance(b, int) and abs(b) < 2**53 for b in bounds):
                raise WireError("a bad range")
            try:
                return range(*bounds)
            except ValueError:
                raise WireError("a bad range") from None
        if kind == "same":
            if value.get("n") not in self.tensors:
                raise WireError("a reference to a tensor not sent")
            return self.tensors[value["n"]]
        if kind == "dtype":
            if value.get("v") not in DTYPES:
                raise WireError("an unknown dtype")
            return DTYPES[value["v"]]
        if kind == "device":
            text = str(value.get("v"))
            if text.split(":")[0] not in ("cpu", "cuda", "meta"):
                raise WireError("an unknown device")
            return torch.device(text)
        if kind == "slice":
            return slice(*[self.decode(v, depth + 1) for v in _list(value.get("v"))[:3]])
        if kind == "generator":
            state = self.decode(value.get("state"), depth + 1)
            if not isinstance(state, torch.Tensor) or state.dtype != torch.uint8:
                raise WireError("a generator without its state")
            generator = place_generator(value.get("device"))
            try:
                generator.set_state(torch.Tensor.cpu(state.as_subclass(torch.Tensor)))
            except RuntimeError:
                raise WireError("a generator with a bad state") from None
            return generator
        if kind == "handle":
            if not isinstance(value.get("id"), int):
                raise WireError("a handle without a number")
            return self.resolve(Handle(value["id"], value.get("kind", "object")))
        return self.other(kind, value, depth)

    def resolve(self, handle: Handle):
        """The value a handle stands for (each side defines it)."""
        raise WireError("no handles expected here")

    def other(self, kind: str, value: dict, depth: int):
        """Kinds of values that only one side reads."""
        raise WireError(f"an unknown kind of value {kind[:40]!r}")

    def _tensor(self, value: dict, depth: int):
        n, dtype, shape = value.get("n"), value.get("dtype"), value.get("shape")
        if dtype not in DTYPES:
            raise WireError(f"an unknown dtype {str(dtype)[:40]!r}")
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise WireError("a bad shape")
        if not isinstance(value.get("blob"), int) or not 0 <= value["blob"] < len(self.offsets):
            raise WireError("a tensor without its bytes")
        start, length = self.offsets[value["blob"]]
        dtype = DTYPES[dtype]
        itemsize = torch.empty((), dtype=dtype).element_size()
        if math.prod(shape) * itemsize != length:
            raise WireError("a tensor whose bytes do not match its shape")
        # A tensor of its own (not a view of the message: code may tell views apart).
        tensor = torch.empty(shape, dtype=dtype)
        if length:
            raw = memoryview(self.data)[start : start + length]
            tensor.view(-1).view(torch.uint8).copy_(torch.frombuffer(raw, dtype=torch.uint8))
        device = value.get("device")
        if device not in ("cpu", "cuda", "meta"):
            raise WireError("an unknown device")
        tensor = place(tensor, device)
        if value.get("parameter"):
            tensor = _parameter(tensor, bool(value.get("requires_grad")))
        elif value.get("requires_grad") and (tensor.is_floating_point() or tensor.is_complex()):
            tensor.requires_grad_(True)
        if "grad" in value:
            grad = self.decode(value["grad"], depth + 1)
            if isinstance(grad, torch.Tensor) and grad.shape == tensor.shape:
                tensor.grad = grad.to(tensor.dtype)
        if not isinstance(n, int) or n in self.tensors:
            raise WireError("a tensor sent twice")
        self.tensors[n] = tensor
        return tensor


def _parameter(tensor: torch.Tensor, requires_grad: bool) -> torch.Tensor:
    """nn.Parameter(tensor). A simulated GPU tensor is marked the way PyTorch marks a
    parameter of a tensor subclass: Parameter() would detach it, which turns it into a
    plain tensor while the decoder runs without torch functions."""
    if type(tensor) is torch.Tensor:
        return torch.nn.Parameter(tensor, requires_grad=requires_grad)
    tensor.requires_grad_(requires_grad)
    tensor._is_param = True
    return tensor


def _list(value) -> list:
    if not isinstance(value, list):
        raise WireError("expected a list")
    return value


def place(tensor: torch.Tensor, device: str) -> torch.Tensor:
    """A received tensor on the device it was labelled with: 'cuda' is the real GPU
    where there is one, else the simulated one (rnncourse/simulated_gpu.py)."""
    if device == "cuda":
        if torch.cuda.is_available():
            return tensor.to("cuda")
        from rnncourse.simulated_gpu import SimulatedCudaTensor

        return tensor.as_subclass(SimulatedCudaTensor)
    if device == "meta":
        return tensor.to("meta")
    return tensor


def place_generator(device: str) -> torch.Generator:
    """A new generator on `device` ('cuda': the real GPU's where there is one, else the
    simulated one's)."""
    if device != "cuda":
        return torch.Generator()
    if torch.cuda.is_available():
        return torch.Generator(device="cuda")
    from rnncourse.simulated_gpu import SimulatedCudaGenerator

    return SimulatedCudaGenerator()


def encode_message(encoder: Encoder, header: dict, **values) -> tuple[dict, list[bytes]]:
    """`header` with each of `values` encoded into it, and the blobs to send after it."""
    for name, value in values.items():
        header[name] = encoder.encode(value)
    header["blobs"] = [len(b) for b in encoder.blobs]
    return header, encoder.blobs
