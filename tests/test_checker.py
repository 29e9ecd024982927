"""The checker's protocol (rnncourse/wire.py, rnncourse/remote.py, autograder/checker.py),
over a socket pair: a thread plays the student's kernel, with a namespace of its own.
Fast: no notebook, no nbgrader (tests/test_hostile.py grades real hostile notebooks)."""

import functools
import json
import socket
import struct

import pytest
import torch

from autograder import checker
from rnncourse import remote, wire
from rnncourse.checks import (
    CheckFailed,
    CheckNotRun,
    count_flops,
    count_matmuls,
    forbid_torch_functions,
    replaced,
)
from rnncourse.models import SequenceRegressor
from rnncourse.simulated_gpu import simulated_gpu


def round_trip(value):
    encoder = wire.Encoder()
    header, blobs = wire.encode_message(encoder, {}, value=value)
    return wire.Decoder(header["blobs"], bytearray(b"".join(blobs))).decode(header["value"])


@pytest.mark.parametrize("dtype", list(wire.DTYPES.values()))
def test_tensors_of_every_dtype_and_shape_cross_unchanged(dtype):
    for shape in [(), (0,), (3,), (2, 0, 4), (2, 3, 5)]:
        t = (torch.randn(shape) * 10).to(dtype)
        back = round_trip(t)
        assert type(back) is torch.Tensor and back.dtype == dtype and back.shape == t.shape
        assert torch.equal(back, t)


def test_strided_and_sliced_tensors_cross_by_value():
    t = torch.arange(30.0, dtype=torch.float64)
    for view in (t[17::10], t[5:6], t.reshape(5, 6).T, t[::3]):
        assert torch.equal(round_trip(view), view)


def test_data_crosses_as_itself():
    value = {
        "floats": [1.5, float("nan"), float("inf"), -float("inf")],
        "big": 2**80,
        "nested": ({"a": (1, 2)}, [None, True, "x"]),
        3: {4, 5},
        "dtype": torch.float64,
        "device": torch.device("cpu"),
        "slice": slice(1, None, 2),
    }
    back = round_trip(value)
    assert back["floats"][1] != back["floats"][1]  # nan
    assert back["floats"][2:] == value["floats"][2:] and back["floats"][0] == 1.5
    assert {k: v for k, v in back.items() if k != "floats"} == {
        k: v for k, v in value.items() if k != "floats"
    }


def test_a_tensor_subclass_arrives_as_a_plain_tensor():
    class Agreeable(torch.Tensor):
        pass

    back = round_trip(torch.zeros(3).as_subclass(Agreeable))
    assert type(back) is torch.Tensor


def test_a_tensor_met_twice_arrives_as_one_object():
    t = torch.ones(2)
    a, b = round_trip([t, t])
    assert a is b


def test_malformed_messages_are_refused():
    good = {"t": "tensor", "n": 0, "dtype": "float32", "shape": [2], "device": "cpu", "blob": 0}
    for bad, blobs in [
        ({**good, "shape": [3]}, [8]),  # bytes do not match the shape
        ({**good, "dtype": "object"}, [8]),
        ({**good, "device": "tpu"}, [8]),
        ({**good, "blob": 5}, [8]),
        ({"t": "pickle", "v": "..."}, []),
        ({"t": "ref", "v": "os.system"}, []),
        ({"t": "int", "v": "9" * 1000}, []),
        ({"t": "dict", "k": [{"t": "list", "v": []}], "v": [1]}, []),
    ]:
        with pytest.raises(wire.WireError):
            wire.Decoder(blobs, bytearray(sum(blobs))).decode(bad)


def test_an_oversized_frame_is_refused_before_it_is_read():
    a, b = socket.socketpair()
    a.sendall(struct.pack("<QQ", wire.MAX_HEADER + 1, 0))
    with pytest.raises(wire.WireError):
        wire.receive(b)
    a.close()
    b.close()


def test_calls_cross_as_data_and_in_place_changes_come_back(kernel):
    def scale_(tensors, factor):
        for t in tensors:
            t.mul_(factor)
        return sum(float(t.sum()) for t in tensors)

    def rebind(tensors):
        tensors[0] = tensors[0] * 0  # a new tensor in the caller's list, not a change of it

    peer = kernel({"scale_": scale_, "rebind": rebind})
    ns = checker.StudentNamespace(lambda: peer)
    tensors = [torch.ones(2), torch.ones(3)]
    originals = list(tensors)
    assert ns["scale_"](tensors, 2.0) == 10.0
    assert torch.equal(originals[0], torch.full((2,), 2.0))  # the caller's own tensors
    ns["rebind"](tensors)
    assert tensors[0] is not originals[0] and torch.equal(originals[0], torch.full((2,), 2.0))
    assert tensors[1] is originals[1]


def test_a_training_step_in_the_kernel_trains_the_checkers_model(kernel):
    def train(model, optimizer, x, y):
        prediction, _ = model(x)
        loss = torch.nn.functional.mse_loss(prediction, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    torch.manual_seed(0)
    here = SequenceRegressor(2, 4, 1).double()
    there = SequenceRegressor(2, 4, 1).double()
    there.load_state_dict(here.state_dict())
    x, y = torch.randn(3, 5, 2, dtype=torch.float64), torch.randn(3, 5, 1, dtype=torch.float64)
    peer = kernel({"train": train})
    ns = checker.StudentNamespace(lambda: peer)
    for _ in range(3):
        want = train(here, torch.optim.SGD(here.parameters(), lr=0.1), x, y)
        got = ns["train"](there, torch.optim.SGD(there.parameters(), lr=0.1), x, y)
        assert got == pytest.approx(want, rel=1e-12)
    for (name, a), b in zip(here.named_parameters(), there.parameters(), strict=True):
        assert torch.allclose(a, b, rtol=1e-12), name


def test_the_global_random_state_is_shared_as_in_one_process(kernel):
    peer = kernel({"draw": lambda: torch.rand(3)})
    ns = checker.StudentNamespace(lambda: peer)
    torch.manual_seed(5)
    got = ns["draw"]()
    after = torch.rand(1)
    torch.manual_seed(5)
    assert torch.equal(got, torch.rand(3)) and torch.equal(after, torch.rand(1))


def test_student_exceptions_keep_their_kind_but_never_become_the_checks_own(kernel):
    class CheckNotRunHere(Exception):
        pass

    CheckNotRunHere.__name__ = "CheckNotRun"

    def todo(x):
        raise NotImplementedError

    def skip(x):
        raise CheckNotRunHere("count me out")

    def fail(x):
        raise CheckFailed("forged")

    peer = kernel({"todo": todo, "skip": skip, "fail": fail})
    ns = checker.StudentNamespace(lambda: peer)
    with pytest.raises(NotImplementedError):
        ns["todo"](1)
    with pytest.raises(Exception) as raised:
        ns["skip"](1)
    assert not isinstance(raised.value, CheckNotRun | CheckFailed)
    assert type(raised.value).__name__ == "CheckNotRun"
    with pytest.raises(AssertionError) as raised:
        ns["fail"](1)
    assert not isinstance(raised.value, CheckFailed)
    with pytest.raises(KeyError):
        ns["not_defined"]


def test_builtins_are_never_looked_up_in_the_kernel(kernel):
    peer = kernel({"len": lambda x: 0, "isinstance": lambda *a: True})
    ns = checker.StudentNamespace(lambda: peer)
    exec("result = len([1, 2]), isinstance(1, str)", ns)
    assert dict.get(ns, "result") == (2, False)


def test_lent_helpers_are_called_back_and_never_sent(kernel):
    secret_calls = []

    def oracle_cell(x):  # stays here: the kernel only gets a handle it can call
        secret_calls.append(1)
        return x + 1

    namespace = {"cell": None}
    exec("def forward(xs):\n    return [cell(x) for x in xs]", namespace)
    peer = kernel(namespace)
    ns = checker.StudentNamespace(lambda: peer)
    with replaced(ns, cell=oracle_cell):
        out = ns["forward"]([torch.zeros(1), torch.ones(1)])
        assert type(namespace["cell"]).__name__ == "CheckerObject"
    assert [float(t) for t in out] == [1.0, 2.0] and len(secret_calls) == 2
    assert namespace["cell"] is None  # put back
    with replaced(ns, cell=torch.tanh):  # public functions travel by name
        assert namespace["cell"] is torch.tanh


def forward(x):
    return torch.sigmoid(x)


def test_instruments_run_in_the_kernel_and_canaries_catch_a_lying_one(kernel, monkeypatch):
    peer = kernel({"forward": forward, "matmul": torch.matmul})
    ns = checker.StudentNamespace(lambda: peer)
    with forbid_torch_functions("sigmoid"), pytest.raises(CheckFailed, match="sigmoid"):
        ns["forward"](torch.zeros(2))
    with simulated_gpu():
        out = ns["forward"](torch.zeros(2, device="cuda"))
    assert out.device.type == "cuda"
    with count_matmuls(w=torch.eye(2)) as counter:
        w = counter.watched["w"]
        ns["forward"](w)
        ns["matmul"](w, w)
    assert counter.counts == {"w": 1}
    with count_flops() as counter:
        ns["matmul"](torch.ones(2, 3), torch.ones(3, 4))
    assert counter.total == 2 * 2 * 3 * 4
    kinds = [["forbid", ["sigmoid"]], ["no_autograd"], ["simulated_gpu"]]
    kinds += [["count_matmuls", {}], ["count_flops"]]
    peer.canaries(kinds)
    assert peer.tampered == []
    # A kernel whose instruments were switched off: every canary says so.
    import contextlib

    monkeypatch.setattr(remote, "_instrument", lambda spec: contextlib.nullcontext())
    peer.canaries(kinds)
    assert len(peer.tampered) == 5


def test_a_report_cannot_be_forged_by_instruments_found_lying():
    from rnncourse.checks import Checks
    from rnncourse.observing import INSTRUMENTED_CALLS

    checks = Checks("f", 2)
    checks.check("plain", 1, lambda: None)

    def instrumented():
        INSTRUMENTED_CALLS[0] += 1

    checks.check("instrumented", 1, instrumented)
    assert checks.report()[0] == 2
    points, lines = checks.report(distrust_instruments=True)
    assert points == 1 and "FAIL (1) instrumented" in "\n".join(lines)


def test_no_output_is_no_points():
    session = checker.Session([], {"test_a": "checks = None"}, call_timeout=1)
    try:
        assert session.outcome("test_a", 4) == (0.0, "0 of 4 points: the cell did not run")
        session.results["test_b"] = "the checks could not run: ProtocolError: gone"
        assert session.outcome("test_b", 4)[0] == 0.0
    finally:
        session.close()


def test_the_kernel_cannot_reach_beyond_what_was_lent(kernel):
    peer = kernel({})
    message = {"op": "global", "name": "x", "id": 99}
    with pytest.raises(wire.WireError):
        peer.handle_request(message, bytearray())
    with pytest.raises(wire.WireError):
        peer.handle_request({"op": "call", "target": 12345, "blobs": []}, bytearray())
    assert json.dumps(checker._canaries(["forbid", ["not_a_torch_function"]]).__class__.__name__)


def test_gradients_flow_through_calls_both_ways(kernel):
    """autograd through a student's function (its backward runs in the kernel), and
    through a helper lent to it (whose backward runs here)."""
    namespace = {"torch": torch}
    exec(
        "def cell(x, w):\n    return torch.tanh(x @ w)\n"
        "def two_steps(x, w):\n    h = step(x, w)\n    return step(h, w), {'first': h}",
        namespace,
    )
    peer = kernel(namespace)
    ns = checker.StudentNamespace(lambda: peer)
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 4, dtype=torch.float64, requires_grad=True)
    got = torch.autograd.grad(ns["cell"](x, w).sum(), (x, w))
    want = torch.autograd.grad(torch.tanh(x @ w).sum(), (x, w))
    assert all(torch.allclose(a, b) for a, b in zip(got, want, strict=True))

    def lent_step(x, w):  # runs here; its gradient too
        return torch.sigmoid(x @ w)

    with replaced(ns, step=lent_step):
        out, states = ns["two_steps"](x, w)
        got = torch.autograd.grad(out.sum() + states["first"].sum(), (x, w))
    h = lent_step(x, w)
    want = torch.autograd.grad(lent_step(h, w).sum() + h.sum(), (x, w))
    assert all(torch.allclose(a, b) for a, b in zip(got, want, strict=True))


class _HiddenModel(torch.nn.Module):
    """A model of the checker's own (not a public class): lent, never sent."""

    def __init__(self):
        super().__init__()
        self.inner = torch.nn.Linear(3, 2).double()
        self.scale = torch.nn.Parameter(torch.tensor(2.0, dtype=torch.float64))

    def forward(self, x, h=None):
        out = torch.tanh(self.scale * self.inner(x))
        return out, out.detach() if h is None else out + h


TRAIN = """
def train(model, optimizer, xs, max_norm, detach=True):
    losses, h = [], None
    for x in xs:
        out, h = model(x, h)
        if detach:
            h = h.detach()
        loss = (out ** 2).mean() + h.sum() * 0
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        losses.append(loss.item())
    return losses
"""


def test_a_lent_model_is_trained_in_the_kernel_with_its_forward_kept_here(kernel):
    """A hidden model passed to the student's training loop: its parameters live in the
    kernel (the student's optimizer and clipping act on them), its forward runs here,
    and the trained values come back onto our model. Its code is never sent."""
    namespace = {"torch": torch}
    exec(TRAIN, namespace)
    peer = kernel(namespace)
    ns = checker.StudentNamespace(lambda: peer)
    torch.manual_seed(0)
    here, there = _HiddenModel(), _HiddenModel()
    there.load_state_dict(here.state_dict())
    xs = [torch.randn(4, 3, dtype=torch.float64) for _ in range(3)]
    want = namespace["train"](here, torch.optim.SGD(here.parameters(), lr=0.3), xs, 0.05)
    got = ns["train"](there, torch.optim.SGD(there.parameters(), lr=0.3), xs, 0.05)
    assert got == pytest.approx(want, rel=1e-12)
    for (name, a), b in zip(here.named_parameters(), there.parameters(), strict=True):
        assert torch.allclose(a, b, rtol=1e-12), name
    assert type(namespace.get("model", None)) is not _HiddenModel
    with pytest.raises(Exception, match="backward through the graph a second time"):
        # Not detaching the state: as in one process, the second backward fails.
        ns["train"](there, torch.optim.SGD(there.parameters(), lr=0.3), xs, 0.05, False)


def test_calls_back_cannot_reach_private_attributes_files_or_processes(kernel, tmp_path):
    """Student code may call what the checks lent it, with arguments it chooses; it may
    not reach a lent function's globals or code, nor make the grader write, read or run."""
    target = tmp_path / "grades.csv"
    target.write_text("alice,10\n")

    class Plot:  # like matplotlib's axes: methods that could touch files
        def savefig(self, path):
            with open(path, "w") as f:
                f.write("forged")

        def read(self, path):
            with open(path) as f:
                return f.read()

    def helper(x):
        return x

    namespace = {}
    exec(
        "def attack(plot, helper, path):\n"
        "    found = []\n"
        "    for act in (lambda: plot.savefig(path), lambda: plot.read(path),\n"
        "                lambda: helper._peer.call_checker(helper._handle, ('__globals__',),\n"
        "                                                  {}, op='getattr')):\n"
        "        try:\n"
        "            found.append(repr(act()))\n"
        "        except Exception as error:\n"
        "            found.append(type(error).__name__ + str(error)[:0])\n"
        "    return found",
        namespace,
    )
    peer = kernel(namespace)
    ns = checker.StudentNamespace(lambda: peer)
    found = ns["attack"](Plot(), helper, str(target))
    assert found == ["PermissionError", "PermissionError", "AttributeError"]
    assert target.read_text() == "alice,10\n"
    with open(target) as f:  # the grader itself is not confined
        assert f.read() == "alice,10\n"


def test_numpy_fractions_ranges_and_bytes_cross_as_data():
    from fractions import Fraction

    import numpy as np

    value = [np.arange(6.0).reshape(2, 3), np.int64(3), Fraction(1, 3), range(1, 7, 2), b"MThd"]
    back = round_trip(value)
    assert isinstance(back[0], np.ndarray) and back[0].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert back[1:] == [3, Fraction(1, 3), range(1, 7, 2), b"MThd"] and type(back[1]) is int
    with pytest.raises(TypeError):
        round_trip(np.array([object()]))


def test_is_instance_asks_the_kernel_about_its_objects(kernel):
    from rnncourse.checks import is_instance

    namespace = {}
    exec("class Mine(list):\n    pass\ndef make():\n    return Mine()", namespace)
    namespace["make_tensor_list"] = lambda: iter([torch.ones(1)])
    peer = kernel(namespace)
    ns = checker.StudentNamespace(lambda: peer)
    made = ns["make"]()
    assert is_instance(made, list) and not is_instance(made, dict)
    assert is_instance([], list)  # a value of our own: plain isinstance
    assert [float(t) for t in ns["make_tensor_list"]()] == [1.0]  # iterating a kernel object


def test_forged_forward_calls_change_nothing_here(kernel):
    """Student code holding a lent model may send forward requests of its own making: with
    other tensors, it gets what those tensors give (as it could compute itself) and our
    model is left as it was; to something that is not a lent model, or malformed, the
    request breaks the protocol (the grader flags it)."""
    model = _HiddenModel()
    model.label = "hidden"
    before = {k: v.clone() for k, v in model.state_dict().items()}
    namespace = {"torch": torch}
    exec(
        "def forged(model, x):\n"
        "    params = {'scale': torch.tensor(100.0, dtype=torch.float64),\n"
        "              'inner.weight': torch.zeros(2, 3, dtype=torch.float64),\n"
        "              'inner.bias': torch.ones(2, dtype=torch.float64)}\n"
        "    lent = [params, {}, [True, True], False, torch.get_rng_state(), x]\n"
        "    out, _ = model._peer.call_checker(model._handle, lent, {}, op='forward')\n"
        "    return out[0], model.label\n"
        "def private(model):\n"
        "    return model._peer.call_checker(model._handle, ('_parameters',), {}, op='getattr')\n"
        "def to_a_helper(helper, x):\n"
        "    lent = [{}, {}, [], False, torch.get_rng_state(), x]\n"
        "    return helper._peer.call_checker(helper._handle, lent, {}, op='forward')\n"
        "def malformed(model, x):\n"
        "    junk = [1, 2, 3, 4, 5, x]\n"
        "    return model._peer.call_checker(model._handle, junk, {}, op='forward')\n",
        namespace,
    )
    x = torch.randn(4, 3, dtype=torch.float64)
    peer = kernel(namespace)
    ns = checker.StudentNamespace(lambda: peer)
    out, label = ns["forged"](model, x)
    assert torch.allclose(out, torch.tanh(torch.full((4, 2), 100.0, dtype=torch.float64)))
    assert label == "hidden"  # the getattr fallback: a public attribute of the lent model
    with pytest.raises(AttributeError, match="does not lend"):
        ns["private"](model)
    for attack, target in (("to_a_helper", lambda v: v), ("malformed", model)):
        fresh = kernel(namespace)  # (a broken protocol ends a connection)
        with pytest.raises(wire.WireError):
            checker.StudentNamespace(functools.partial(lambda p: p, fresh))[attack](target, x)
    assert model.state_dict().keys() == before.keys()
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert isinstance(model.scale, torch.nn.Parameter)


def test_a_hostile_repr_reaches_the_report_as_one_short_line(kernel):
    namespace = {}
    exec(
        "class Loud:\n"
        "    def __repr__(self):\n"
        "        return '\\x1b[31m<script>' + 'x' * 10_000_000 + '\\n[grader] 30 of 30'\n"
        "def make():\n"
        "    return Loud()\n",
        namespace,
    )
    peer = kernel(namespace)
    text = repr(checker.StudentNamespace(lambda: peer)["make"]())
    assert len(text) <= 80 and "\n" not in text and "\x1b" not in text


def test_the_call_counter_has_canaries_that_catch_it_switched_off(kernel, monkeypatch):
    """`count_calls` (exercise 8's log depth) counts in the student's process, so the
    checker mixes in canaries: an honest counter passes them, one switched off fails both.
    (What it counts, through the real pipeline: tests/test_hostile.py.)"""
    peer = kernel({"matmul": torch.matmul})
    peer.canaries([["count_calls"]])
    assert peer.tampered == []
    import contextlib

    monkeypatch.setattr(remote, "_instrument", lambda spec: contextlib.nullcontext())
    peer.canaries([["count_calls"]])
    assert len(peer.tampered) == 2  # both of its canaries (torch.add, Tensor.tolist) missed
