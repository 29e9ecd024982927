"""The checker: runs the hidden checks and decides every score, outside the student's kernel.

The student's kernel is hostile ground: anything that runs there can be read or
rewritten by the student's code. So when a notebook is graded, its test cells (visible
and hidden checks, from `solutions/`) run here, in the grading process, which never
runs student code. The names the student defined are proxies (`Remote`): calling one
sends the arguments as data to the kernel's call server (rnncourse/remote.py), which
calls the student's function there and sends back the result as data. A helper a
test cell lends the student's code (`replaced(globals(), ...)`) stays here too: the
student's code calls it back.

Instruments that must run beside the student's code (forbidden built-ins, no
autograd, the simulated GPU) still run in the kernel, so their verdicts are
untrusted: between real calls the checker makes canary calls that an honest
instrument must catch. One that lies or is switched off zeroes every check of the
notebook that rested on instruments, and flags the submission.
"""

import builtins
import contextlib
import os
import random
import shutil
import socket
import sys
import tempfile
import threading
import time

import torch

from autograder import fingerprints
from autograder.course import make_exercise_modules_importable
from rnncourse import diagnosis, observing, wire
from rnncourse.checks import CheckFailed, Checks, silenced
from rnncourse.remote import (
    CHECKER_ENV,
    Peer,
    ProtocolError,
    ProtocolViolation,
    TrackingDecoder,
    TrackingEncoder,
    apply_changes,
    changes,
    import_public,
    remote_exception,
    version,
)

# The test cells run here, never in a student's kernel: here only, hints may name the
# family of a slip against the reference's probe results.
diagnosis.use_references(fingerprints.references())

# How often an instrumented call is followed by a canary (besides one per cell).
CANARY_RATE = 0.25
ACCEPT_TIMEOUT = 60.0  # seconds for a kernel to connect
INTERRUPT_GRACE = 10.0  # seconds a kernel gets to answer after an interrupt


class Remote:
    """A function, class or object that lives in the student's kernel."""

    __slots__ = ("_peer", "_handle")

    def __init__(self, peer, handle):
        self._peer, self._handle = peer, handle

    def __call__(self, *args, **kwargs):
        return self._peer.call(
            {"t": "handle", "id": self._handle.id, "kind": "kernel"}, args, kwargs
        )

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._peer.getattr(self._handle, name)

    def __iter__(self):
        """The items, as a list made in the kernel (a generator's, say)."""
        return iter(self._peer.getattr(self._handle, "", op="items"))

    def _is_instance(self, classes) -> bool:
        """isinstance, asked of the kernel (rnncourse.checks.is_instance): a lie gains nothing,
        every value is still checked as data."""
        peer = self._peer
        classes = list(classes) if isinstance(classes, tuple) else [classes]
        with torch._C.DisableTorchFunction():
            header, blobs = wire.encode_message(
                CheckerEncoder(peer),
                {
                    "op": "isinstance",
                    "target": {"t": "handle", "id": self._handle.id, "kind": "kernel"},
                },
                classes=classes,
            )
        reply, _ = peer.request(header, blobs)
        return reply.get("value") is True

    def _call_public(self, function, args) -> object:
        """A public function run in the kernel on this object (rnncourse.checks.in_kernel)."""
        path = public_path(function)
        if path is None:
            raise TypeError(f"{function!r} is not public: it cannot run in the kernel")
        return self._peer.call({"t": "ref", "v": path}, (self, *args), {})

    def __len__(self):
        length = self._peer.getattr(self._handle, "", op="len")
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise TypeError("the student's object gave a length that is not one")
        return length

    def __repr__(self):
        """The object's own repr (for reports), on one short line of plain characters."""
        try:
            text = self._peer.getattr(self._handle, "", op="repr")
        except Exception:
            text = None
        if not isinstance(text, str):
            return f"<{self._handle.kind} in the student's kernel>"
        text = "".join(c if c.isprintable() else " " for c in text)
        return text if len(text) <= 80 else text[:77] + "..."


def public_path(value) -> str | None:
    """The dotted name under which `value` can be imported from public code, if any."""
    module = getattr(value, "__module__", None) or ""
    names = [getattr(value, "__qualname__", None), getattr(value, "__name__", None)]
    candidates = [f"{module}.{n}" for n in names if n and module]
    if getattr(value, "__name__", None):
        candidates.append(f"torch.Tensor.{value.__name__}")
    for path in candidates:
        try:
            if import_public(path) is value:
                return path
        except Exception:
            continue
    return None


def _public_module(module: torch.nn.Module) -> bool:
    """A module made only of public classes, with no hooks: it can be sent by value."""
    for m in module.modules():
        if public_path(type(m)) is None or any(
            getattr(m, name) for name in vars(m) if name.endswith("hooks") and name.startswith("_")
        ):
            return False
    return True


# What a call from the kernel into the grader (a lent helper, a lent model, a method of an
# object the checks lent, like a plot's axes) may not do: the student chooses the
# arguments, and this process is the grader. Python's audit hooks see these acts.
REFUSED_PREFIXES = ("os.", "shutil.", "subprocess.", "socket.", "ctypes.", "pty.", "glob.")
_confined = threading.local()
_hook_installed = []


def _refuse_outside_acts(event: str, args) -> None:
    if getattr(_confined, "depth", 0) and (event == "open" or event.startswith(REFUSED_PREFIXES)):
        raise PermissionError(f"a call from the student's code may not do this here ({event})")


@contextlib.contextmanager
def confined():
    """While the grader runs a call the kernel asked for: no files, processes or sockets."""
    if not _hook_installed:
        sys.addaudithook(_refuse_outside_acts)  # (for good: audit hooks cannot be removed)
        _hook_installed.append(True)
    _confined.depth = getattr(_confined, "depth", 0) + 1
    try:
        yield
    finally:
        _confined.depth -= 1


class CheckerEncoder(TrackingEncoder):
    """The checker's values: public functions by name, modules of public classes and
    optimizers by value (copied back after the call), anything else of ours as a handle
    the kernel can call back."""

    INTERNALS = {"_parameters", "_buffers", "_modules", "_flat_weights", "_flat_weight_refs"}

    def other(self, value, depth):
        if isinstance(value, Remote):
            return {"t": "handle", "id": value._handle.id, "kind": "kernel"}
        if isinstance(value, torch.nn.Module) and _public_module(value):
            attrs = {
                k: v
                for k, v in vars(value).items()
                if k not in self.INTERNALS
                and not (k.startswith("_") and k.endswith(("hooks", "set")))
            }
            return {
                "t": "module",
                "class": public_path(type(value)),
                "attrs": self.encode(attrs, depth + 1),
                "parameters": self.encode(dict(value._parameters), depth + 1),
                "buffers": self.encode(dict(value._buffers), depth + 1),
                "modules": self.encode(dict(value._modules), depth + 1),
            }
        if isinstance(value, torch.nn.Module):  # one of ours: lent (see remote.LentModule)
            handle = self.peer.export(value, "checker")
            return {
                "t": "lent",
                "id": handle.id,
                "modules": self.encode([name for name, _ in value.named_modules()][1:], depth + 1),
                "parameters": self.encode(dict(value.named_parameters()), depth + 1),
                "buffers": self.encode(dict(value.named_buffers()), depth + 1),
                "training": self.encode([m.training for m in value.modules()], depth + 1),
            }
        if isinstance(value, torch.optim.Optimizer) and public_path(type(value)):
            return {
                "t": "optimizer",
                "class": public_path(type(value)),
                "groups": self.encode([dict(g) for g in value.param_groups], depth + 1),
                "state_dict": self.encode(value.state_dict(), depth + 1),
            }
        if callable(value) and not isinstance(value, type | torch.nn.Module):
            path = public_path(value)
            if path:
                return {"t": "ref", "v": path}
        if isinstance(value, type) and public_path(value):
            return {"t": "ref", "v": public_path(value)}
        handle = self.peer.export(value, "checker")
        return {"t": "handle", "id": handle.id, "kind": "checker"}


class CheckerDecoder(TrackingDecoder):
    """Reads the kernel's answers: only data, handles (proxies, or our own objects) and
    references to the objects we sent."""

    def resolve(self, handle):
        if handle.kind == "checker":
            if handle.id not in self.peer.exports:
                raise wire.WireError("a handle to an object the checker does not lend")
            return self.peer.exports[handle.id]
        return Remote(self.peer, handle)


class CheckerPeer(Peer):
    """The checker's end of one kernel's connection."""

    def __init__(self, sock, *, call_timeout: float, interrupt, stop: threading.Event):
        super().__init__(sock)
        self.call_timeout, self.interrupt, self.stop = call_timeout, interrupt, stop
        self.instruments_used: dict = {}  # kind -> a spec of it, for this cell's canaries
        self.tampered: list[str] = []  # what the canaries found
        self.random = random.Random(os.urandom(8))

    def receive(self):
        """The next message; interrupts student code that runs too long, and gives up
        when the kernel is gone or stops answering."""
        deadline = time.monotonic() + self.call_timeout
        interrupted = False
        if self.sock.gettimeout() != 0.5:
            self.sock.settimeout(0.5)
        while True:
            try:
                return wire.receive(self.sock)
            except TimeoutError:
                pass
            except (OSError, EOFError) as error:
                raise ProtocolError(f"the kernel stopped answering ({error})") from None
            if self.stop.is_set():
                raise ProtocolError("the kernel stopped answering")
            if time.monotonic() > deadline:
                if interrupted:
                    raise ProtocolError("the kernel stopped answering after an interrupt")
                self.interrupt()
                interrupted = True
                deadline = time.monotonic() + INTERRUPT_GRACE

    def handle_request(self, message, data):
        """A callback from student code: only to objects we lent (or the gradients of
        such a call)."""
        if message.get("op") == "vjp":
            return self.answer_vjp(message, data)
        if message.get("op") not in ("call", "getattr", "forward", "items", "len"):
            raise wire.WireError("the kernel may only call back what the checker lent it")
        target = self.exports.get(message.get("target"))
        if target is None:
            raise wire.WireError("a call to an object the checker does not lend")
        with torch._C.DisableTorchFunction():
            decoder = CheckerDecoder(self, message, data)
            args = decoder.decode(message.get("args"))
            kwargs = decoder.decode(message.get("kwargs"))
            versions = {id(v): version(v) for v in decoder.inbound}
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise wire.WireError("bad arguments")
        op = message["op"]
        with silenced(), confined():
            if op == "getattr":
                name = str(args[0]) if args else ""
                if name.startswith("_"):  # (__globals__, __code__: the hidden checks' own)
                    raise AttributeError(f"the grader does not lend {name[:40]}")
                value = getattr(target, name)
            elif op == "forward":
                value = lent_forward(target, args, kwargs)
            elif op == "items":
                value = list(target)
            elif op == "len":
                value = len(target)
            else:
                value = target(*args, **{str(k): v for k, v in kwargs.items()})
        with torch._C.DisableTorchFunction():
            encoder = CheckerEncoder(self, {id(v): i for i, v in enumerate(decoder.inbound)})
            reply = {"copyback": changes(encoder, decoder.inbound, versions)}
            graph = self.remember_graph(decoder.inbound, value)
            if graph:
                reply["graph"] = graph
            return wire.encode_message(encoder, reply, value=value)

    def get_global(self, name: str):
        reply, data = self.request({"op": "global", "name": name, "blobs": []})
        if "error" in reply:
            raise KeyError(name)
        return CheckerDecoder(self, reply, data).decode(reply.get("value"))

    def getattr(self, handle, name: str, op="getattr"):
        target = {"t": "handle", "id": handle.id, "kind": "kernel"}
        reply, data = self.request({"op": op, "target": target, "name": name, "blobs": []})
        if "error" in reply:
            raise remote_exception(reply["error"])
        return CheckerDecoder(self, reply, data).decode(reply.get("value"))

    def call(self, target: dict, args, kwargs, *, instruments=None, canary=False):
        """Call a function in the kernel; returns its result, or raises what it raised
        (CheckFailed when an instrument caught it)."""
        owners = []
        if instruments is None:
            instruments = [spec for spec, _ in observing.ACTIVE]
            owners = [owner for _, owner in observing.ACTIVE]
        if instruments and not canary:
            observing.INSTRUMENTED_CALLS[0] += 1
            for spec in instruments:
                used = self.instruments_used.setdefault(spec[0], [spec[0], []])
                if spec[0] == "forbid":
                    used[1] = sorted(set(used[1]) | set(spec[1]))
        # Our own encoding must not trip the instruments active around the call (the
        # helpers the kernel calls back meanwhile run under them, as they would in-process).
        with torch._C.DisableTorchFunction():
            encoder = CheckerEncoder(self)
            header, blobs = wire.encode_message(
                encoder,
                {"op": "call", "target": target},
                args=list(args),
                kwargs=dict(kwargs),
                instruments=[list(spec) for spec in instruments],
                rng=torch.get_rng_state(),
            )
        reply, data = self.request(header, blobs)
        with torch._C.DisableTorchFunction():
            decoder = CheckerDecoder(self, reply, data, encoder.outbound)
            value = decoder.decode(reply.get("value"))
            rng = decoder.decode(reply.get("rng"))
            if "error" in reply and value is None:  # the call's arguments did not arrive
                raise remote_exception(reply["error"])
            if not isinstance(value, list) or len(value) != 1:
                raise wire.WireError("a malformed answer")
            apply_changes(encoder.outbound, decoder.decode(reply.get("copyback")))
            if isinstance(rng, torch.Tensor) and rng.dtype == torch.uint8:
                with contextlib.suppress(RuntimeError):
                    torch.set_rng_state(rng)
            observations = reply.get("observations")  # plain numbers, not encoded
        violations = [str(v)[:500] for v in reply.get("violations", []) if isinstance(v, str)]
        if not isinstance(observations, list) or len(observations) != len(instruments):
            observations = [None] * len(instruments)
        if canary:
            return value[0], reply.get("error"), violations, observations
        for owner, observation in zip(owners, observations, strict=False):
            owner.record(observation)
        if instruments and self.random.random() < CANARY_RATE:
            self.canaries(list(self.instruments_used.values()))
        if violations:
            raise CheckFailed(violations[0])
        if "error" in reply:
            raise remote_exception(reply["error"])
        if isinstance(reply.get("graph"), int):
            return self.attach_graph(reply["graph"], encoder.outbound, value)[0]
        return value[0]

    # -- canaries ---------------------------------------------------------------

    def canaries(self, specs) -> None:
        """Calls an honest instrument must catch; a miss marks the notebook tampered."""
        for spec in specs:
            for target, args, honest, canary_spec in _canaries(spec):
                try:
                    value, error, violations, observed = self.call(
                        {"t": "ref", "v": target}, args, {}, instruments=[canary_spec], canary=True
                    )
                except (ProtocolError, wire.WireError):
                    raise
                except Exception:
                    continue
                if not honest(value, error, violations, observed[0]):
                    found = f"the kernel's `{spec[0]}` instrument did not catch {target}"
                    if found not in self.tampered:
                        self.tampered.append(found)


def lent_forward(module, args: list, kwargs: dict) -> list:
    """The forward of a model we lent, on the values of its tensors in the kernel
    (remote.LentModule.forward), with the kernel's mode, grad mode and random state;
    returns [output, random state after]."""
    if not isinstance(module, torch.nn.Module) or len(args) < 5:
        raise wire.WireError("a forward call to something that is not a lent model")
    parameters, buffers, training, grad_enabled, rng, *args = args
    if not (
        isinstance(parameters, dict)
        and isinstance(buffers, dict)
        and isinstance(training, list)
        and isinstance(rng, torch.Tensor)
        and rng.dtype == torch.uint8
    ):
        raise wire.WireError("a malformed forward call")
    tensors = {**parameters, **buffers}
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in tensors.items()):
        raise wire.WireError("a forward call with other values than named tensors")
    parts = list(module.modules())
    saved = [part.training for part in parts]
    for part, flag in zip(parts, training, strict=False):
        part.training = bool(flag)
    try:
        torch.set_rng_state(rng)
        with torch.set_grad_enabled(bool(grad_enabled)):
            output = torch.func.functional_call(module, tensors, tuple(args), kwargs)
    finally:
        for part, flag in zip(parts, saved, strict=True):
            part.training = flag
    return [output, torch.get_rng_state()]


def _canaries(spec):
    """(public function, arguments, test of an honest answer, instrument) for an
    instrument: calls it must catch or count in a certain way."""
    kind = spec[0]
    if kind == "forbid":
        for name in spec[1]:
            for module in ("torch", "torch.nn.functional", "torch.special"):
                path = f"{module}.{name}"
                try:
                    fn = import_public(path)
                    with silenced():
                        fn(torch.randn(4))
                except Exception:
                    continue
                yield path, (torch.randn(4),), lambda v, e, found, seen: bool(found), spec
                return
    elif kind == "no_autograd":
        yield "torch.autograd.grad", (torch.randn(1),), lambda v, e, found, seen: bool(found), spec
    elif kind == "count_matmuls":
        w = torch.randn(3, 3)
        yield (
            "torch.matmul",
            (w, torch.randn(3, 2)),
            lambda v, e, found, seen: seen == {"w": 1},
            ["count_matmuls", {"w": w}],
        )
    elif kind == "count_flops":
        yield (
            "torch.mm",
            (torch.randn(2, 3), torch.randn(3, 4)),
            lambda v, e, found, seen: seen == 2 * 2 * 3 * 4,
            spec,
        )
    elif kind == "count_calls":
        yield (
            "torch.add",
            (torch.randn(3), torch.randn(3)),
            lambda v, e, found, seen: seen == {"total": 1, "leaving": 0},
            spec,
        )
        yield (
            "torch.Tensor.tolist",
            (torch.randn(3),),
            lambda v, e, found, seen: seen == {"total": 1, "leaving": 1},
            spec,
        )
    elif kind == "simulated_gpu" and not torch.cuda.is_available():
        from rnncourse.simulated_gpu import SimulatedCudaTensor

        def on_gpu():
            return torch.randn(3).as_subclass(SimulatedCudaTensor)

        yield (
            "torch.add",
            (on_gpu(), torch.randn(3)),
            lambda v, e, found, seen: bool(e) and "simulated GPU" in str(e.get("message", "")),
            spec,
        )
        yield (
            "torch.zeros",
            (3,),
            lambda v, e, found, seen: (
                not e and isinstance(v, torch.Tensor) and v.device.type == "cpu"
            ),
            spec,
        )
        yield (
            "torch.zeros_like",
            (on_gpu(),),
            lambda v, e, found, seen: (
                not e and isinstance(v, torch.Tensor) and v.device.type == "cuda"
            ),
            spec,
        )


class StudentNamespace(dict):
    """The globals a test cell runs with here: names it does not define itself are
    looked up in the student's kernel (built-ins never are)."""

    def __init__(self, peer_source):
        super().__init__()
        self._peer = peer_source  # a callable: the current cell's peer
        self._cache = {}

    def __missing__(self, name):
        if name.startswith("__") or name in vars(builtins):
            raise KeyError(name)
        if name not in self._cache:
            self._cache[name] = self._peer().get_global(name)
        return self._cache[name]

    def get(self, name, default=None):
        try:
            return self[name]
        except KeyError:
            return default

    def forget(self):
        self._cache.clear()

    @contextlib.contextmanager
    def lend(self, values: dict):
        """`replaced(globals(), name=value)`: the student's code sees `value` under
        `name` inside the block (as a handle it calls back, unless it is public)."""
        peer = self._peer()
        with torch._C.DisableTorchFunction():
            header, blobs = wire.encode_message(CheckerEncoder(peer), {"op": "lend"}, values=values)
        reply, _ = peer.request(header, blobs)
        if "error" in reply:
            raise remote_exception(reply["error"])
        missing = object()
        saved = {name: dict.get(self, name, missing) for name in values}
        dict.update(self, values)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is missing:
                    dict.pop(self, name, None)
                else:
                    dict.__setitem__(self, name, value)
            peer.request({"op": "unlend", "blobs": []})


class Session:
    """Grading one notebook: a socket the kernel connects to, a namespace where the
    notebook's setup and test cells run, and what each test cell earned."""

    def __init__(self, setup_cells: list[str], test_cells: dict[str, str], *, call_timeout):
        self.setup_cells, self.test_cells = setup_cells, test_cells
        make_exercise_modules_importable()  # the hidden checks that test cells import
        self.call_timeout = call_timeout
        self.folder = tempfile.mkdtemp(prefix="rnncourse-checker-")  # 0700: ours alone
        self.path = os.path.join(self.folder, "socket")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.connection = None
        self.peer = None
        self.namespace = StudentNamespace(lambda: self.peer)
        self.results: dict[str, Checks | str] = {}  # grade id -> its checks, or why none
        self.tampered: list[str] = []
        self.interrupt = lambda: None
        self.set_up = False
        self.broken = ""  # why the connection can no longer be trusted to stay in step

    def environment(self) -> dict:
        return {CHECKER_ENV: self.path}

    def close(self):
        for sock in (self.connection, self.listener):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _connect(self, stop: threading.Event):
        if self.connection is not None:
            return
        self.listener.settimeout(0.5)
        deadline = time.monotonic() + ACCEPT_TIMEOUT
        while self.connection is None:
            try:
                self.connection, _ = self.listener.accept()
            except TimeoutError:
                if stop.is_set() or time.monotonic() > deadline:
                    raise ProtocolError("the kernel never connected to the checker") from None

    def check_cell(self, grade_id: str, stop: threading.Event) -> None:
        """Run the test cell `grade_id` here against the kernel (which is serving)."""
        source = self.test_cells.get(grade_id)
        if source is None:
            self.results[grade_id] = "not a test cell of this assignment"
            return
        if self.broken:  # answers can no longer be told apart: nothing more is decided
            self.results[grade_id] = f"the checks could not run: {self.broken}"
            with contextlib.suppress(Exception):
                self.peer.send({"op": "done", "id": 0, "blobs": []})
            return
        try:
            self._connect(stop)
            self.peer = CheckerPeer(
                self.connection, call_timeout=self.call_timeout, interrupt=self.interrupt, stop=stop
            )
            self.peer.tampered = self.tampered
            self.namespace.forget()
            if not self.set_up:
                self.set_up = True
                for setup in self.setup_cells:
                    with silenced():
                        exec(compile(setup, "<setup>", "exec"), self.namespace)
            self.namespace.pop("checks", None)
            with silenced():
                exec(compile(source, f"<{grade_id}>", "exec"), self.namespace)
            checks = dict.get(self.namespace, "checks")
            if not isinstance(checks, Checks):
                raise RuntimeError("the test cell made no checks")
            if self.peer.instruments_used:
                self.peer.canaries(list(self.peer.instruments_used.values()))
            self.results[grade_id] = checks
        except BaseException as error:  # noqa: BLE001 (whatever happened, this cell gets 0)
            self.results[grade_id] = f"the checks could not run: {type(error).__name__}: {error}"
            if isinstance(error, wire.WireError | ProtocolViolation):
                found = f"the kernel broke the grading protocol ({str(error)[:80]})"
                if found not in self.tampered:
                    self.tampered.append(found)
        finally:
            if self.peer is not None and not stop.is_set():
                try:
                    self.peer.request({"op": "release", "blobs": []})
                    self.peer.request({"op": "done", "blobs": []})
                except Exception as error:  # the stream is lost: let the kernel go on
                    self.broken = f"{type(error).__name__}: {error}"[:200]
                    with contextlib.suppress(Exception):
                        self.peer.send({"op": "done", "id": 0, "blobs": []})

    def outcome(self, grade_id: str, points: float) -> tuple[float, str]:
        """(points, report text) of a test cell, decided here."""
        result = self.results.get(grade_id)
        if isinstance(result, Checks):
            earned, lines = result.report(distrust_instruments=bool(self.tampered))
            return min(earned, points), "\n".join(lines)
        reason = result or "the cell did not run"
        return 0.0, f"0 of {points:g} points: {reason}"
