"""Read a submission's own code (never run it) and name what deserves a human look.

Grading already survives hostile code (see `autograder.sandbox` and
`autograder.guard`); this scan is how the instructor hears about it. It looks
only at cells the student can write (solution cells and cells they added) and
flags the tools that tampering needs: reaching into builtins or `sys.modules`,
replacing attributes of modules or of names the locked cells define, dynamic
code, process control, the IPython shell, and reading or writing files by
path. A flag is a reason to read the notebook, not a verdict.
"""

import ast

# Module attributes that are settings, meant to be assigned.
SETTINGS = ("torch.backends.",)
# Bare names whose use is flagged.
NAMES = {
    "__builtins__": "reaches into builtins",
    "builtins": "reaches into builtins",
    "__import__": "imports dynamically",
    "importlib": "imports dynamically",
    "exec": "runs dynamic code",
    "eval": "runs dynamic code",
    "compile": "runs dynamic code",
    "globals": "edits the notebook's globals",
    "setattr": "sets attributes dynamically",
    "delattr": "deletes attributes dynamically",
    "get_ipython": "uses the IPython shell",
    "IPython": "uses the IPython shell",
    "ctypes": "uses ctypes",
    "gc": "walks the garbage collector",
    "inspect": "inspects live objects",
    "subprocess": "starts processes",
    "signal": "handles signals",
    "posix": "calls the operating system directly",
    "exit": "exits",
    "quit": "exits",
    "open": "opens files by path",
}
# Attributes whose use is flagged: name -> (owners it is flagged on, or None for any; why).
ATTRIBUTES = {
    "__builtins__": (None, "reaches into builtins"),
    "__import__": (None, "imports dynamically"),
    "__globals__": (None, "reaches into a function's globals"),
    "__code__": (None, "replaces a function's code"),
    "modules": ({"sys"}, "edits sys.modules"),
    "_exit": ({"os", "posix"}, "exits the process"),
    "exit": ({"os", "sys"}, "exits"),
    "fork": ({"os", "posix"}, "forks the process"),
    "forkpty": ({"os", "posix", "pty"}, "forks the process"),
    "posix_spawn": ({"os", "posix"}, "starts processes"),
    "posix_spawnp": ({"os", "posix"}, "starts processes"),
    "kill": ({"os", "posix"}, "sends signals"),
    "system": ({"os", "posix"}, "runs shell commands"),
    "open": (None, "opens files by path"),
    "read_text": (None, "reads files by path"),
    "read_bytes": (None, "reads files by path"),
    "write_text": (None, "writes files by path"),
    "write_bytes": (None, "writes files by path"),
    "unlink": (None, "deletes files"),
    "rmtree": (None, "deletes files"),
    "_C": (None, "reaches into PyTorch's internals (it can switch off what watches the code)"),
}
# The helper package's modules that watch code while it is graded: no answer needs them.
INSTRUMENT_MODULES = {"rnncourse.observing", "rnncourse.remote", "rnncourse.wire"}


def to_python(source: str) -> str:
    """The cell as Python, with IPython's magics (`%`, `!`) turned into calls."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def flags(student_cells: list[str], locked_cells: list[str]) -> list[str]:
    """Reasons to look at a submission, one per kind of finding, in order.

    `student_cells`: sources of the cells the student wrote; `locked_cells`: sources
    of the setup and test cells, whose names a student must not redefine.
    """
    modules, locked_names = set(), set()
    for source in locked_cells:
        tree = _parse(source)
        for node in ast.walk(tree) if tree else ():
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules |= {(a.asname or a.name).split(".")[0] for a in node.names}
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node in tree.body:
                locked_names.add(node.name)
        for node in tree.body if tree else ():
            if isinstance(node, ast.Assign):
                locked_names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    protected = locked_names | modules

    found = []

    def flag(reason: str, node: ast.AST) -> None:
        text = f"{reason} (line {getattr(node, 'lineno', '?')})"
        if not any(f.split(" (line")[0] == reason for f in found):
            found.append(text)

    # Each cell as Python (magics turned into calls), parsed once; None where it does not parse.
    cells = [(source, to_python(source)) for source in student_cells]
    trees = [_parse(python) for _, python in cells]
    # Modules the student imports count too: replacing a module's attribute is tampering
    # (but for settings that are meant to be set, such as torch.backends.cudnn's).
    for tree in filter(None, trees):
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                protected |= {(a.asname or a.name).split(".")[0] for a in node.names}

    for (source, python), tree in zip(cells, trees, strict=True):
        if "get_ipython()" in python and "get_ipython" not in source:
            flag("runs a shell command or magic", ast.Module(body=[], type_ignores=[]))
        if tree is None:
            continue
        defined_here = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    module = getattr(node, "module", None) or ""
                    full = f"{module}.{alias.name}" if module else alias.name
                    if any(full == m or full.startswith(m + ".") for m in INSTRUMENT_MODULES):
                        flag(f"imports {full}: reaches into the grader's instruments", node)
                    root = alias.name.split(".")[0]
                    if root in NAMES:
                        flag(f"imports {alias.name}: {NAMES[root]}", node)
                    if (alias.asname or root) in locked_names:
                        flag(f"redefines `{alias.asname or root}` from a locked cell", node)
            elif isinstance(node, ast.Name) and node.id in NAMES:
                if node.id not in defined_here:
                    flag(f"uses `{node.id}`: {NAMES[node.id]}", node)
            elif isinstance(node, ast.Attribute) and node.attr in ATTRIBUTES:
                owners, why = ATTRIBUTES[node.attr]
                if owners is None or _root(node) in owners:
                    flag(f"uses `{_dotted(node)}`: {why}", node)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined_here.add(node.name)
                if node.name in protected and _at_top(tree, node):
                    flag(f"redefines `{node.name}` from a locked cell", node)
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
                has_many = isinstance(node, (ast.Assign, ast.Delete))
                targets = node.targets if has_many else [node.target]
                for target in targets:
                    if (
                        isinstance(target, ast.Attribute)
                        and _root(target) in protected
                        and not _dotted(target).startswith(SETTINGS)
                    ):
                        flag(f"replaces `{_dotted(target)}`", node)
                    elif isinstance(target, ast.Subscript) and _root(target) in protected:
                        flag(f"edits `{_dotted(target.value)}[...]`", node)
                    elif (
                        isinstance(target, ast.Name)
                        and target.id in protected
                        and _at_top(tree, node)
                    ):
                        flag(f"redefines `{target.id}` from a locked cell", node)
            if isinstance(node, (ast.Global, ast.Nonlocal)):
                for name in node.names:
                    if name in protected:
                        flag(f"rebinds `{name}` from inside a function", node)
    return found


def _parse(source: str):
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def _at_top(tree: ast.Module, node: ast.AST) -> bool:
    return node in tree.body


def _root(node: ast.AST):
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # an odd node: its type is enough to name it
        return type(node).__name__
