"""Keeps a grading kernel's checking machinery honest (an IPython extension).

Loaded when a grading kernel starts, before any student code runs, it records
the functions and classes the test cells rely on (torch, numpy, math, builtins,
`rnncourse`, the hidden checks). Then:

- before a locked cell (setup or test) runs, whatever student code replaced is
  put back, and the cell's output says what was found ("restored before");
- the names a setup cell defines (`Checks`, `expect_close`, helpers) are put back
  before every test cell, should a student cell have redefined them;
- after a test cell, anything the tested code replaced while the test ran is put
  back and reported as "changed during the test": the pipeline gives that cell
  zero points.

Both reports begin with MARKER; the pipeline reads them from the graded notebook
and flags the submission for review. A determined student can still defeat code
that shares their process; the static scan (`autograder.scan`) flags the tools
they would need (builtins, sys.modules, setattr, get_ipython, ...).
"""

import ast
import hashlib
import importlib
import inspect
import json
import os
import sys

SETTINGS_ENV = "RNNCOURSE_GUARD"
MARKER = "[grader]"
OUTPUT_LIMIT = 1_000_000  # characters a cell may print
DURING_TEST = "changed during the test"

# Modules whose contents test cells and hidden checks use (and their submodules
# among `rnncourse` and `autograder`).
MODULES = [
    "builtins",
    "math",
    "random",
    "contextlib",
    "io",
    "numpy",
    "numpy.testing",
    "torch",
    "torch.nn",
    "torch.nn.functional",
    "torch.func",
    "torch.autograd",
    "torch.testing",
    "torch.linalg",
    "torch.nn.utils.rnn",
    "torch.overrides",
]
PACKAGES = ("rnncourse", "autograder")
# Builtins that IPython itself swaps in and out around each cell.
IPYTHON_BUILTINS = {"exit", "quit", "get_ipython", "display", "__IPYTHON__", "_", "__", "___"}
IPYTHON_BUILTINS |= {"input", "raw_input", "getpass"}  # ipykernel's, per request


def cell_hash(source: str) -> str:
    return hashlib.sha256(source.strip().encode()).hexdigest()


def defined_names(source: str) -> set[str]:
    """Top-level names a cell binds: imports, functions, classes, assignments."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


class OutputLimit:
    """Caps what one cell may print (stdout and stderr together): a cell printing
    megabytes would otherwise swell the graded notebook and the feedback page."""

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0

    def install(self, stream_class) -> None:
        original, cap = stream_class.write, self

        def write(stream, text):
            room = cap.limit - cap.used
            cap.used += len(text)
            if room <= 0:
                return len(text)
            if len(text) > room:
                text = (
                    text[:room] + f"\n... (output cut: a cell may print {cap.limit:,} characters)\n"
                )
            return original(stream, text)

        stream_class.write = write


def _code_of(module) -> dict:
    """The module's attributes that are code: callables, classes and submodules."""
    return {
        key: value
        for key, value in vars(module).items()
        if callable(value) or inspect.ismodule(value)
    }


class Snapshot:
    """The contents of trusted modules and classes, to compare and restore."""

    def __init__(self):
        for name in MODULES:  # loaded now, so that what a student replaces in them is seen
            try:
                importlib.import_module(name)
            except ImportError:
                pass
        names = MODULES + [n for n in sys.modules if n.split(".")[0] in PACKAGES]
        # Functions, classes and modules only: data (lists, flags, settings) legitimately
        # changes under the checks (warnings.filters is swapped by every catch_warnings).
        self.modules = {
            name: (sys.modules[name], _code_of(sys.modules[name]))
            for name in names
            if name in sys.modules
        }
        classes = {sys.modules["torch"].Tensor, sys.modules["torch"].nn.Module}
        for name, (_, contents) in self.modules.items():
            if name.split(".")[0] in PACKAGES:
                classes |= {
                    v for v in contents.values() if inspect.isclass(v) and v.__module__ == name
                }
        stdout_class = type(sys.stdout)
        classes.add(stdout_class)
        self.classes = {cls: dict(vars(cls)) for cls in classes}
        self.stdout = sys.stdout

    def restore(self) -> list[str]:
        """Put back whatever changed; returns what it was, in words."""
        changes = []
        for name, (module, contents) in self.modules.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
                changes.append(f"sys.modules[{name!r}] was replaced")
            current = vars(module)
            for key, value in contents.items():
                if name == "builtins" and key in IPYTHON_BUILTINS:
                    continue
                if key not in current or current[key] is not value:
                    if _wrapped_by_torch(current.get(key), value):
                        contents[key] = current[key]  # torch wraps some functions lazily
                        continue
                    current[key] = value
                    changes.append(f"{name}.{key} was replaced")
        for cls, contents in self.classes.items():
            current = dict(vars(cls))
            for key in current.keys() - contents.keys():
                delattr(cls, key)
                changes.append(f"{cls.__qualname__}.{key} was added")
            for key, value in contents.items():
                if key not in current or current[key] is not value:
                    setattr(cls, key, value)
                    changes.append(f"{cls.__qualname__}.{key} was replaced")
        if sys.stdout is not self.stdout:
            sys.stdout = self.stdout
            changes.append("sys.stdout was replaced")
        return changes


def _wrapped_by_torch(new, old) -> bool:
    """True for torch's own lazy wrappers (importing torch._dynamo wraps manual_seed)."""
    module = getattr(new, "__module__", None) or ""
    return getattr(new, "__wrapped__", None) is old and module.startswith("torch")


class Guard:
    def __init__(self, shell, settings: dict):
        self.shell = shell
        self.output = OutputLimit(settings.get("output_limit", OUTPUT_LIMIT))
        self.output.install(type(sys.stdout))  # before the snapshot, which then keeps it
        self.tests = set(settings.get("test_cells", []))
        self.setup = set(settings.get("setup_cells", []))
        self.snapshot = Snapshot()
        self.protected = {}  # name -> value, as the setup cells left them
        self.running = None  # "test" or "setup" while such a cell runs

    def report(self, when: str, changes: list[str]) -> None:
        if changes:
            more = f"; and {len(changes) - 5} more" if len(changes) > 5 else ""
            shown = "; ".join(changes[:5]) + more
            self.snapshot.stdout.write(f"{MARKER} {when}: {shown}\n")
            self.snapshot.stdout.flush()

    def pre_run_cell(self, info):
        self.output.used = 0
        digest = cell_hash(info.raw_cell or "")
        self.running = "test" if digest in self.tests else "setup" if digest in self.setup else None
        if self.running is None:
            return
        changes = self.snapshot.restore()
        if self.running == "test":
            namespace = self.shell.user_ns
            for name, value in self.protected.items():
                if namespace.get(name) is not value:
                    namespace[name] = value
                    changes.append(f"`{name}` (defined by a locked cell) was redefined")
        self.report("restored before this cell, as student code had changed it", changes)

    def post_run_cell(self, result):
        if self.running == "setup":
            namespace = self.shell.user_ns
            for name in defined_names(result.info.raw_cell or ""):
                if name in namespace:
                    self.protected[name] = namespace[name]
        elif self.running == "test":
            self.report(f"{DURING_TEST} (this cell scores zero)", self.snapshot.restore())
        self.running = None


def load_ipython_extension(shell):
    settings = json.loads(os.environ.pop(SETTINGS_ENV, "{}"))
    guard = Guard(shell, settings)
    shell.events.register("pre_run_cell", guard.pre_run_cell)
    shell.events.register("post_run_cell", guard.post_run_cell)
    _refuse_process_control()


def _refuse(what: str):
    def refused(*args, **kwargs):
        raise PermissionError(f"{what} is not allowed while grading")

    return refused


# Calls that would end, clone or signal the kernel, or start processes.
PROCESS_CONTROL = (
    *("_exit", "abort", "kill", "killpg", "system"),
    *("fork", "forkpty", "posix_spawn", "posix_spawnp"),
)


def _refuse_process_control() -> None:
    """The calls of PROCESS_CONTROL raise instead, through `os` and `posix` alike. Other
    doors stay open (ctypes, subprocess's C helper): in the sandbox every process a kernel
    starts, by any means, is its user's, capped in number, and killed with the kernel
    (autograder/sandbox.py); without the sandbox nothing stops them (the grader says so)."""
    import posix

    for module in (os, posix):
        for name in PROCESS_CONTROL:
            if hasattr(module, name):
                setattr(module, name, _refuse(f"{module.__name__}.{name}"))
