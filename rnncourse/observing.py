"""What instruments the code under test right now.

The checks wrap some calls in instruments that must run beside the code they watch:
a forbidden-function list, a ban on autograd, the simulated GPU. When work is graded,
the checks run in the grader's own process and the student's code in the student's:
each instrument then records itself here, and the grader sends the list along with
every call, so that the student's process sets up the same instruments around it.
"""

import contextlib
import io
import warnings

# Calls the grader made under instruments (each check notes whether it made any).
INSTRUMENTED_CALLS = [0]
# Instruments active now, outermost first, as (spec, owner): the spec says what to set
# up in the student's process (["forbid", [names]], ["no_autograd"], ["simulated_gpu"],
# ["count_matmuls", {name: tensor}], ["count_flops"], ["count_calls"]); the owner's
# `record` receives what that instrument observed there (counts), if anything.
ACTIVE: list[tuple[list, object]] = []


# Inside a call to the grader (values on their way to the other process): the call counter
# does not count the encoding, which a student's code in one process would not do.
ON_THE_WIRE = [0]


@contextlib.contextmanager
def on_the_wire():
    ON_THE_WIRE[0] += 1
    try:
        yield
    finally:
        ON_THE_WIRE[0] -= 1


@contextlib.contextmanager
def instrument(owner, *spec):
    """Record `owner`'s instrument, described by `spec`, as active inside the block."""
    ACTIVE.append((list(spec), owner))
    try:
        yield
    finally:
        ACTIVE.pop()


class RecordedMode:
    """Mixin for a TorchFunctionMode instrument: while active it is recorded in ACTIVE,
    described by `spec()`. `record` receives what it counted in a student's process."""

    def spec(self) -> list:
        raise NotImplementedError

    def record(self, observation) -> None:
        """Nothing to record by default: what it catches arrives as the call's error."""

    def __enter__(self):
        ACTIVE.append((self.spec(), self))
        return super().__enter__()

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            ACTIVE.pop()


@contextlib.contextmanager
def silenced():
    """Run student code with its prints and warnings swallowed.

    nbgrader gives zero to any test cell that writes to stderr, so nothing a
    student's function prints or warns may reach the cell's output.
    """
    sink = io.StringIO()
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stderr(sink),
        contextlib.redirect_stdout(sink),
    ):
        warnings.simplefilter("ignore")
        yield
