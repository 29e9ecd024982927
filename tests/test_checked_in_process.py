"""When tests/checked_in_process.py reuses the reference's points for a graded cell, and
when it must check the cell again. (That reused points equal what nbgrader gives is
proven end to end by test_exercises.py's
test_mistakes_graded_without_jupyter_get_what_nbgrader_gives, whose sampled mistakes
include one in each exercise's first function.)"""

import socket

import pytest
from checked_in_process import _closure, _RecordingPeer


def helper(x):
    return x + 1


def uses_helper(x):
    return helper(x) * 2


def uses_uses_helper(x):
    return uses_helper(x) - 1


NAMESPACE = {"helper": helper, "uses_helper": uses_helper, "uses_uses_helper": uses_uses_helper}


def test_the_closure_follows_the_code_and_stops_at_lent_names():
    assert {"uses_uses_helper", "uses_helper", "helper"} <= _closure(
        {"uses_uses_helper"}, NAMESPACE
    )
    # uses_helper lent: the notebook's own uses_helper, and its helper, are never run.
    assert _closure({"uses_uses_helper"}, NAMESPACE, lent={"uses_helper"}) & set(NAMESPACE) == {
        "uses_uses_helper"
    }


@pytest.fixture
def peer():
    ours, theirs = socket.socketpair()
    yield _RecordingPeer(ours, dict(NAMESPACE), set())
    ours.close()
    theirs.close()


def ask(peer, name):
    peer.handle_request({"op": "global", "name": name, "blobs": []}, b"")


def test_a_name_counts_as_lent_only_if_it_was_lent_at_every_request(peer):
    peer.lent.append({"helper": helper})  # as a "lend" request leaves it
    ask(peer, "uses_helper")
    assert peer.always_lent == {"helper"}
    peer.lent.pop()  # "unlend"
    ask(peer, "uses_helper")  # the notebook's own helper could run now
    assert peer.always_lent == set()
    assert peer.asked == {"uses_helper"}


def test_no_name_counts_as_lent_when_a_request_came_before_the_lend(peer):
    ask(peer, "uses_helper")
    peer.lent.append({"helper": helper})
    ask(peer, "uses_helper")
    assert peer.always_lent == set()


def test_only_bookkeeping_and_library_calls_on_plain_values_cannot_read_the_notebook():
    reads = _RecordingPeer.reads_the_notebook
    library = {"t": "ref", "v": "torch.add"}
    tensor = {"t": "tensor", "n": 0, "dtype": "float32", "shape": [3], "blob": 0}
    handle = {"t": "handle", "id": 4, "kind": "object"}  # an object of the notebook's
    for op in ("lend", "unlend", "release", "done"):
        assert not reads({"op": op})
    assert not reads({"op": "call", "target": library, "args": {"t": "list", "v": [tensor]}})
    assert reads({"op": "call", "target": library, "args": {"t": "list", "v": [handle]}})
    nested = {"t": "dict", "k": ["model"], "v": [handle]}
    assert reads({"op": "call", "target": library, "kwargs": nested})
    assert reads({"op": "call", "target": handle, "args": {"t": "list", "v": []}})
    for op in ("global", "getattr", "vjp", "items", "len", "repr", "isinstance"):
        assert reads({"op": op})
