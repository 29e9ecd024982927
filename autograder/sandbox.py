"""A grading kernel that cannot see the answers, harm the grader, or touch other students.

Every grading kernel gets its own view of the file system: a kernel forked by
autograder/forkserver.py calls `unshare_mounts`; on GPU graders, where kernels start
afresh, the kernelspec that `install_kernelspec` writes runs

    unshare --mount --propagation private  python -m autograder.sandbox -f CONNECTION_FILE

Then, before any student code runs, as root and single-threaded (`preload`, `enter`):

1. imports the kernel's IPython extension (autograder/guard.py) while its file is
   visible (the hidden checks never enter a kernel: the checker runs them);
2. covers the secrets with empty in-memory folders: the repository (solutions, hidden
   checks, tests, git history), the submissions folder, the grading folder (gradebook,
   other students), the home folders, and the notebook being graded (it holds the
   restored hidden tests); only the Python installation, the public `rnncourse`
   package and the student's own working folder are mounted back;
3. gives the kernel private /tmp, /var/tmp and /dev/shm;
4. sets resource limits (memory, processes, file size) and starts a watchdog that
   kills the kernel when the notebook's time is up;
5. becomes an unprivileged user of its own (so it cannot undo any of this, read
   root's files, or write outside its folder), and starts the IPython kernel with
   `autograder.guard` loaded.

It needs Linux, root and `unshare` (a CI machine or a container). Elsewhere
`unavailable_reason()` says why, and the grader runs kernels without a sandbox and
warns that student code could read the hidden tests.
"""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

POLICY_ENV = "RNNCOURSE_SANDBOX"
KERNEL_NAME = "rnncourse-sandbox"
# Each kernel runs as its own user id (this plus its process id): no other process
# shares it, so the process limit and the watchdog's kill concern that kernel only.
UID_BASE = 100_000
TEMPORARY = ["/tmp", "/var/tmp", "/dev/shm"]
# Written into the kernel's socket folder by the watchdog when it stops a notebook.
TIMEOUT_NOTE = ".ran-out-of-time"


@cache
def unavailable_reason() -> str | None:
    """None if sandboxed kernels work on this machine, else why they don't."""
    if not sys.platform.startswith("linux"):
        return "it needs Linux"
    if os.geteuid() != 0:
        return "it needs root (to hide files and switch to an unprivileged user)"
    if not (shutil.which("unshare") and shutil.which("mount")):
        return "it needs the `unshare` and `mount` commands (util-linux)"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "mount", "-t", "tmpfs", "t", "/mnt"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"this machine does not allow private mounts ({probe.stderr.strip()[:120]})"
    return None


def install_kernelspec(folder: Path) -> None:
    """Write the sandbox kernelspec under `folder`/kernels (where the grader's kernel
    manager looks for it: autograder/checked_execute.py): a fresh process per kernel, for
    GPU graders."""
    spec = Path(folder) / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    argv = [shutil.which("unshare"), "--mount", "--propagation", "private"]
    argv += [sys.executable, "-m", "autograder.sandbox", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "Python 3 (grading sandbox)", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel, indent=1))


def policy(*, hide, keep, notebook_timeout, memory_bytes) -> str:
    """The sandbox's settings, as the JSON that `main` reads from POLICY_ENV."""
    return json.dumps(
        {
            "hide": [str(p) for p in hide],
            "keep": [str(p) for p in keep],
            "notebook_timeout": notebook_timeout,
            "memory_bytes": memory_bytes,
        }
    )


# ---------------------------------------------------------------------------
# Inside the kernel's private mount namespace
# ---------------------------------------------------------------------------


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _hide(hide: list[str], keep: list[str]) -> None:
    """Cover each folder in `hide` with an empty tmpfs, then mount the paths in
    `keep` back at their places (they are reached through file descriptors opened
    before anything was covered)."""
    kept = {path: os.open(path, os.O_PATH) for path in keep if os.path.exists(path)}
    covered = []
    for path in sorted(set(hide), key=len):  # parents first; their children vanish with them
        if not os.path.isdir(path) or any(path.startswith(c + os.sep) for c in covered):
            continue
        # Temporary folders are writable by everyone; the other covers by root only.
        mode = "1777" if path in TEMPORARY else "0755"
        _mount("-t", "tmpfs", "-o", f"size=256m,mode={mode}", "tmpfs", path)
        covered.append(path)
    for path, fd in sorted(kept.items()):
        if not any(path.startswith(c + os.sep) for c in covered):
            continue
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            Path(path).touch()
        _mount("--no-canonicalize", "--bind", f"/proc/{os.getpid()}/fd/{fd}", path)
    for fd in kept.values():
        os.close(fd)


def _start_watchdog(seconds: float, uid: int, note_dir: str) -> None:
    """Fork a root process (the student cannot kill it: it is not theirs) that kills
    every process of `uid` after `seconds`, leaving TIMEOUT_NOTE in `note_dir` for the
    grader to report, or as soon as the kernel has gone (processes it started go too)."""
    kernel = os.getpid()
    if os.fork() != 0:
        return
    os.setsid()
    deadline = time.monotonic() + seconds
    while os.path.exists(f"/proc/{kernel}"):
        if time.monotonic() > deadline:
            Path(note_dir, TIMEOUT_NOTE).write_text(f"stopped after {seconds} s\n")
            break
        time.sleep(0.5)
    for pid in _processes_of(uid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os._exit(0)


def _processes_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except FileNotFoundError:
                pass
    return pids


def unshare_mounts() -> None:
    """Give this process a private mount namespace (what `unshare --mount --propagation
    private` does for a freshly started kernel); for kernels forked by autograder/forkserver.py."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000) != 0:  # CLONE_NEWNS
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) failed")
    _mount("--make-rprivate", "/")


def preload() -> None:
    """1. The IPython extension the kernel loads, while its file is still visible."""
    import autograder.guard  # noqa: F401


def enter(settings: dict, connection_file: str) -> str:
    """2-5. Hide the secrets, set the limits, start the watchdog and become the kernel's
    own user; in a private mount namespace, in the student's folder. Returns the
    connection file the kernel (now unprivileged) reads."""
    connection = json.loads(Path(connection_file).read_text())
    workdir = os.getcwd()
    socket_dir = os.path.dirname(connection["ip"])
    uid = UID_BASE + os.getpid()

    # 2-3. Hide the secrets, keep what the kernel needs, private temporary folders.
    keep = [workdir, socket_dir, sys.prefix, sys.base_prefix, *settings["keep"]]
    _hide(settings["hide"] + TEMPORARY, keep)
    # Enter the folder again through the new mounts: the old working directory still
    # leads to the uncovered files (its `..` to other students' folders).
    os.chdir(workdir)
    for notebook in Path(workdir).glob("*.ipynb"):
        _mount("--bind", "/dev/null", str(notebook))

    # The kernel reads its connection file after it has become the student user.
    private_connection = os.path.join(socket_dir, "connection.json")
    Path(private_connection).write_text(json.dumps(connection))
    for path in (workdir, socket_dir, private_connection):
        os.chown(path, uid, uid)

    # 4. Limits, then the watchdog (forked before the threads of the kernel exist).
    if settings["memory_bytes"] and not os.path.exists("/dev/nvidiactl"):
        # (CUDA reserves far more address space than it uses: no limit on GPU graders.)
        memory = settings["memory_bytes"]
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_NPROC, (256, 256))
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 2**20, 256 * 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _start_watchdog(settings["notebook_timeout"], uid, socket_dir)

    # 5. Become the student's own unprivileged user, for good.
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    os.environ.update(HOME="/tmp", TMPDIR="/tmp", IPYTHONDIR="/tmp/.ipython")
    os.environ["MPLCONFIGDIR"] = "/tmp/.matplotlib"
    return private_connection


def launch(connection_file: str, options: list[str]) -> None:
    """Run the IPython kernel (with the guard, given in `options`) until it shuts down."""
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(argv=["-f", connection_file, *options])


def main(argv: list[str]) -> None:
    """A freshly started kernel (GPU graders, where kernels are not forked)."""
    settings = json.loads(os.environ.pop(POLICY_ENV))
    from rnncourse import remote

    remote.connect_from_environment()  # the grader's checker, before its folder is hidden
    preload()
    connection_file = enter(settings, argv[argv.index("-f") + 1])
    launch(connection_file, argv[argv.index("-f") + 2 :])


if __name__ == "__main__":
    main(sys.argv[1:])
