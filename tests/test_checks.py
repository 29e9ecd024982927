"""rnncourse.checks: the messages students read, and the device and built-in detectors."""

import sys

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnncourse.checks import (
    CheckFailed,
    Checks,
    autograd_derivative,
    count_calls,
    expect_close,
    expect_finite,
    expect_tensor,
    forbid_torch_functions,
    run_on_cuda,
)
from rnncourse.simulated_gpu import simulated_gpu
from rnncourse.wire import place_generator


def message(fn) -> str:
    with pytest.raises(CheckFailed) as failure:
        fn()
    return str(failure.value)


def test_shape_message_names_both_shapes():
    text = message(lambda: expect_close(torch.zeros(3, 4), torch.zeros(4, 3)))
    assert "expected the result to have shape (4, 3), got (3, 4)" in text


def test_dtype_and_type_messages():
    assert "dtype torch.float64, got torch.float32" in message(
        lambda: expect_tensor(torch.zeros(2), dtype=torch.float64)
    )
    assert "to be a torch.Tensor, got list" in message(lambda: expect_tensor([1.0]))


def test_value_message_gives_index_input_and_errors():
    x = torch.tensor([0.0, 1.0, 2.0])
    text = message(lambda: expect_close(x * torch.tensor([1.0, 1.0, 1.5]), x, inputs=x))
    assert "first at index (2,) (input 2)" in text
    assert "expected 2, got 3" in text
    assert "relative" in text


def test_finite_message_points_at_overflow():
    x = torch.tensor([1.0, 1e4])
    text = message(lambda: expect_finite(torch.exp(x), inputs=x))
    assert "inf" in text and "input 10000" in text


def test_forbidden_functions_seen_under_every_spelling():
    x = torch.randn(3)
    alias = torch.sigmoid
    for call in (
        torch.sigmoid,
        lambda t: t.sigmoid(),
        torch.nn.functional.sigmoid,
        torch.special.expit,
        lambda t: alias(t),
    ):
        with pytest.raises(CheckFailed), forbid_torch_functions("sigmoid", "expit"):
            call(x)
    with forbid_torch_functions("sigmoid"):
        torch.exp(x)  # elementary operations stay allowed


@pytest.mark.parametrize(
    "unsafe",
    [
        lambda x: x * torch.ones(x.shape),  # a factory without device=
        lambda x: torch.cat([x, torch.zeros(2, 1)], dim=1),
        lambda x: x[:, 0] @ torch.eye(2),  # a slice, then a CPU matrix
        lambda x: torch.stack([x[:, t] for t in range(3)], 1) + torch.zeros(3),
        lambda x: x.cpu() * 2,  # leaves the GPU
        lambda x: torch.from_numpy(x.numpy()),  # cannot reach numpy from a GPU
        # The rules only a real GPU enforces (rnncourse/simulated_gpu.py's docstring):
        lambda x: pack_padded_sequence(x, torch.tensor([3, 1], device=x.device), True, False),
        lambda x: x + torch.randn(x.shape, generator=torch.Generator(), device=x.device),
        lambda x: x + x[:, :1].normal_(generator=torch.Generator()),
        lambda x: x[torch.randperm(2, generator=place_generator("cuda"))],
        lambda x: x * torch.ones(3)[torch.tensor([2, 1, 0], device=x.device)],  # CPU[GPU]
    ],
)
def test_simulated_gpu_catches_device_unsafe_code(unsafe):
    make = lambda device: (torch.randn(2, 3, device=device),)  # noqa: E731
    checks = Checks("unsafe", 1)
    assert not checks.device_safe("stays on the GPU", 1, unsafe, make)
    assert checks.results[0][2] == "FAIL"


@pytest.mark.parametrize(
    "safe",
    [
        lambda x: x * torch.ones_like(x),
        lambda x: x * torch.ones(x.shape, device=x.device, dtype=x.dtype),
        lambda x: torch.stack([x[:, t] for t in range(3)], 1).new_zeros(4) + x.sum(),
        lambda x: x.to("cpu").to("cuda") * torch.tensor(2.0),  # 0-dim CPU tensors mix
        lambda x: x[torch.tensor([1, 0])] + x.sum().item(),  # CPU indices, .item()
        lambda x: x.to(torch.float64).unbind(1)[0].clamp(min=0),
        lambda x: x[torch.randperm(2, generator=torch.Generator()).to(x.device)],
        lambda x: x + torch.randn(x.shape, generator=place_generator("cuda"), device=x.device),
    ],
)
def test_simulated_gpu_runs_device_safe_code_with_real_values(safe):
    make = lambda device: (torch.randn(2, 3, device=device),)  # noqa: E731
    out, how = run_on_cuda(safe, make)
    assert out.device.type == "cuda"
    if not torch.cuda.is_available():
        assert how == "simulated GPU"


@pytest.mark.parametrize("cls", [torch.nn.RNN, torch.nn.GRU, torch.nn.LSTM])
def test_pytorch_rnn_modules_run_and_train_on_the_simulated_gpu(cls):
    """Packed or not, with the values the CPU gives; a packed sequence's batch sizes and
    pad_packed_sequence's lengths stay on the CPU, as on a real GPU."""
    torch.manual_seed(0)
    model, x = cls(3, 4, batch_first=True).double(), torch.randn(2, 5, 3, dtype=torch.float64)
    packed = lambda x: pack_padded_sequence(x, torch.tensor([5, 2]), True, False)  # noqa: E731
    expected, _ = pad_packed_sequence(model(packed(x))[0], batch_first=True)
    with simulated_gpu():
        model, x = model.to("cuda"), x.to("cuda")
        assert {p.device.type for p in model.parameters()} == {"cuda"}
        assert model(x)[0].device.type == "cuda"
        sequence = packed(x)
        assert sequence.batch_sizes.device.type == "cpu"
        out, lengths = pad_packed_sequence(model(sequence)[0], batch_first=True)
        assert out.device.type == "cuda" and lengths.device.type == "cpu"
        out.sum().backward()
        torch.optim.SGD(model.parameters(), lr=0.1).step()
        assert {p.grad.device.type for p in model.parameters()} == {"cuda"}
    assert torch.equal(out.cpu(), expected)


def test_device_safe_flags_outputs_left_on_cpu():
    checks = Checks("moves to cpu", 1)
    assert not checks.device_safe(
        "stays on device", 1, lambda x: x.cpu(), lambda d: (torch.randn(2, device=d),)
    )
    assert "expected the output on device 'cuda', got 'cpu'" in checks.results[0][3]


def test_score_scales_to_cell_points_and_prints_report(capsys):
    checks = Checks("demo", points=4)
    checks.check("passes", 1, lambda: None)
    checks.check("fails", 1, lambda: expect_close(torch.ones(2), torch.zeros(2)))
    score = checks.score()
    assert score == 2.0 and type(score) is float
    text = capsys.readouterr().out
    assert "demo: 2 of 4 points" in text and "PASS (1) passes" in text
    assert "FAIL (1) fails" in text and "visible checks only" in text


def test_student_output_and_errors_never_reach_stderr(capsys):
    def noisy():
        print("progress", file=sys.stderr)
        import warnings

        warnings.warn("careful", stacklevel=1)
        raise ValueError("boom")

    checks = Checks("noisy", 1)
    checks.check("noisy code", 1, noisy)
    assert checks.results[0][3] == "raised ValueError: boom"
    assert capsys.readouterr().err == ""


def test_not_implemented_and_exit_become_failed_checks():
    checks = Checks("todo", 2)

    def todo():
        raise NotImplementedError()

    checks.check("todo", 1, todo)
    checks.check("exit", 1, lambda: sys.exit(3))
    assert [status for _, _, status, _ in checks.results] == ["FAIL", "FAIL"]
    assert "not implemented yet" in checks.results[0][3]


def test_autograd_derivative_matches_known_derivative():
    x = torch.linspace(-3, 3, 13, dtype=torch.float32)
    expected = 1 - torch.tanh(x) ** 2
    got = autograd_derivative(torch.tanh)(x)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_checks_run_on_real_gpu():
    checks = Checks("gpu", 2)
    checks.on_each_device(
        "values", 1, lambda d: expect_close(torch.ones(2, device=d), torch.ones(2, device=d))
    )
    checks.device_safe("device", 1, lambda x: x * 2, lambda d: (torch.ones(2, device=d),))
    assert "cpu, cuda" in checks.results[0][0] and "real GPU" in checks.results[1][0]
    assert checks.score() == 2.0


def test_progress_prints_a_line_at_each_quarter_and_says_when_done(capsys):
    from rnncourse.progress import Progress

    progress = Progress(1500, "steps")
    for step in range(1, 1501):
        progress(step, "note" if step == 750 else "")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" steps")[0].strip() for line in lines] == [
        "375/1500",
        "750/1500",
        "1125/1500",
        "1500/1500",
    ]
    assert lines[1].endswith("; note") and lines[-1].endswith("done")


def test_call_counter_tells_a_loop_over_time_from_a_scan():
    """`count_calls` (exercise 8's log-depth checks): a loop makes at least T torch calls,
    a scan a few per pass, and a loop moved to NumPy shows as leaving PyTorch."""

    def loop(a, b):
        h, out = torch.zeros_like(b[0]), []
        for t in range(a.shape[0]):
            h = a[t] * h + b[t]
            out.append(h)
        return torch.stack(out)

    def scan(a, b):
        shift = 1
        while shift < a.shape[0]:
            b = torch.cat([b[:shift], a[shift:] * b[:-shift] + b[shift:]])
            a = torch.cat([a[:shift], a[shift:] * a[:-shift]])
            shift *= 2
        return b

    def numpy_loop(a, b):
        a, b = a.numpy(), b.numpy().copy()
        for t in range(1, len(b)):
            b[t] += a[t] * b[t - 1]
        return torch.from_numpy(b)

    def calls(fn, steps):
        a, b = torch.rand(steps, 3), torch.randn(steps, 3)
        with count_calls() as counter:
            fn(a, b)
        return counter.total, counter.leaving

    assert calls(loop, 256)[0] >= 256 * 3
    assert calls(scan, 4096)[0] <= 2 * calls(scan, 64)[0]
    a, b = torch.rand(9, 2), torch.randn(9, 2)
    assert torch.allclose(scan(a, b), loop(a, b), atol=1e-6)
    assert calls(numpy_loop, 64)[1] == 2
    assert calls(scan, 64)[1] == 0


def test_the_plays_held_out_check_quotes_what_it_measures_and_fails_a_loop_that_does_not_learn():
    """Exercise 10's held-out check quotes the reference's accuracy (about 0.44) and the
    majority class's (0.34) in its messages: measured here as the check measures them (one
    thread, as a grading kernel's checker on 2 cores). A known mistake that never resets
    the gradients stays below the threshold."""
    import plays_hidden_checks as plays
    from autograder.fingerprints import reference_namespace
    from autograder.mistakes import for_assignment

    reference = reference_namespace("10-plays")
    mistake = next(m for m in for_assignment("10-plays")[0] if m.name == "plays_train_no_zero_grad")
    wrong = dict(reference)
    exec(mistake.code, wrong)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        accuracy, majority = plays.held_out_accuracy(reference["train_classifier"])
        wrong_accuracy, _ = plays.held_out_accuracy(wrong["train_classifier"])
    finally:
        torch.set_num_threads(threads)
    assert (round(accuracy, 2), round(majority, 2)) == (
        plays.REFERENCE_ACCURACY,
        plays.MAJORITY_ACCURACY,
    )
    assert wrong_accuracy < plays.THRESHOLD < accuracy


def test_a_train_function_that_spoils_its_data_spoils_no_later_check():
    """Exercise 10's held-out check reads its speeches once per grading process: a
    submission's train_classifier that overwrites the ids and labels it is given (in
    grading they reach the kernel as copies; here it gets them directly) leaves the next
    student's check the data as read."""
    import plays_hidden_checks as plays

    before = [t.clone() if isinstance(t, torch.Tensor) else t for t in plays._held_out_data()]

    def spoils(model, ids, lengths, labels, *args):
        ids.zero_()
        lengths.fill_(1)
        labels.fill_(0)
        return []

    plays.held_out_accuracy(spoils)
    after = plays._held_out_data()
    for old, new in zip(before, after, strict=True):
        assert torch.equal(old, new) if isinstance(old, torch.Tensor) else old == new
