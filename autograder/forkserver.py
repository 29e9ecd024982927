"""Grading kernels forked from one warm process: each starts in milliseconds, not seconds.

Starting Python, ipykernel and PyTorch takes about 1.7 s, often longer than a
notebook's tests. So a grading run keeps one fork server (its worker processes share
it): a process that has imported all of that once, never the hidden checks, and forks
every grading kernel from itself. The forked kernel then enters the sandbox
(autograder/sandbox.py: its own mount namespace, hidden secrets, limits, its own
user) exactly as a freshly started one would, and runs the IPython kernel.

jupyter_client starts a kernel as a process that it signals, polls and kills. So the
kernelspec's command is a small proxy, this file run as a script:

    python -S autograder/forkserver.py CONNECTION_FILE [kernel options]

It asks the server for a kernel, hands it its stdin, stdout and stderr, forwards
SIGINT (interrupt) and SIGTERM to it, and exits with the kernel's exit status. If the
proxy is killed, the server kills the kernel; if the grading process goes, the server
and its kernels go too.

Not on GPU graders: CUDA does not survive a fork, so there every kernel starts afresh.
The proxy half imports only the standard library: it must start fast.
"""

import json
import os
import select
import signal
import socket
import struct
import sys

SOCKET_ENV = "RNNCOURSE_FORKSERVER"
KERNEL_NAME = "rnncourse-forked"
# The grading kernel's guard refuses os._exit to student code; the forked child needs it.
_exit = os._exit
# What every grading kernel imports: once, in the fork server, before it forks kernels.
WARM_UP = [
    "torch",
    "torch._dynamo",  # imported by the first optimizer a notebook builds: 1.3 s
    "numpy",
    "matplotlib.pyplot",
    "IPython",
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "rnncourse",
    "rnncourse.checks",
    "rnncourse.plotting",
    "rnncourse.remote",
    "autograder.guard",
]


def available() -> bool:
    """Forked kernels work here: POSIX, and no GPU (CUDA does not survive a fork)."""
    return hasattr(os, "fork") and not os.path.exists("/dev/nvidiactl")


# ---------------------------------------------------------------------------
# The grading process's side
# ---------------------------------------------------------------------------

_server = None  # (settings, process, socket path) of this process's fork server


def install_kernelspec(folder) -> None:
    """Write the forked kernel's kernelspec under `folder`/kernels."""
    from pathlib import Path

    spec = Path(folder) / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-S", os.path.abspath(__file__), "{connection_file}"]
    kernel = {"argv": argv, "display_name": "Python 3 (grading, forked)", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel, indent=1))


def ensure_server(env: dict, *, wait: bool = True) -> str:
    """Start this process's fork server for kernels with environment `env` (or keep the
    one already running, if it started with the same settings of its own), and return its
    socket: a kernel's proxy finds it in the kernel's environment (SOCKET_ENV), which the
    grader hands to each kernel it starts (autograder/autograde.py).

    With `wait=False` it returns while the server still imports: the worker processes
    that this process starts next can share it; call `wait_until_ready()` before the
    first kernel starts."""
    global _server
    import atexit
    import subprocess
    import tempfile

    # (The grader's `env` puts its course first on PYTHONPATH: autograde.kernel_settings.)
    environment = {**os.environ, **env}
    settings = _server_settings(environment)
    if _server and _server[0] == settings and _server[1].poll() is None:
        wait_until_ready()
        return _server[2]
    stop_server()
    # A folder only this user can enter: a kernel (another user) cannot reach the socket.
    path = os.path.join(tempfile.mkdtemp(prefix="rnncourse-forkserver-"), "socket")
    process = subprocess.Popen(
        [sys.executable, "-m", "autograder.forkserver", "--serve", path],
        env=environment,
        stdout=subprocess.PIPE,
        start_new_session=True,  # a Ctrl-C for the grader is not for the kernels
    )
    if _server is None:
        atexit.register(stop_server)
    _server = (settings, process, path)
    if wait:
        wait_until_ready()
    return path


# What the server reads from its own environment, once, as it starts: the paths it imports
# from, the threads PyTorch starts with (its kernels inherit them), matplotlib's backend.
# A kernel gets every other setting from its own request (the environment of the proxy
# that its grading run started), so the runs of one process share a server: a suite
# grades dozens of classes, and each new server costs about 3 s.
SERVER_ENV = ("PYTHONPATH", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "MPLBACKEND")


def _server_settings(environ: dict) -> str:
    from autograder.sandbox import POLICY_ENV  # the server preloads the sandbox's guard

    settings = {name: environ.get(name) for name in SERVER_ENV}
    return json.dumps({**settings, "sandboxed": bool(environ.get(POLICY_ENV))}, sort_keys=True)


def wait_until_ready() -> None:
    """Return once this process's fork server listens (at once if it already did)."""
    if not _server or _server[1].stdout.closed:
        return
    process = _server[1]
    ready = process.stdout.readline().strip() == b"ready"
    process.stdout.close()
    if not ready:
        process.wait()
        stop_server()
        raise RuntimeError("the grading fork server did not start (see the messages above)")


def stop_server() -> None:
    global _server
    import shutil

    if _server:
        _, process, path = _server
        process.terminate()
        process.wait()
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
        _server = None


# ---------------------------------------------------------------------------
# The server: warm imports, then a fork per kernel
# ---------------------------------------------------------------------------


def serve(path: str) -> None:
    import importlib

    from autograder import sandbox

    parent = os.getppid()  # first: the grading process may be gone by the time we are ready
    policy = json.loads(os.environ.get(sandbox.POLICY_ENV) or "null")
    # As ipykernel would set it, before matplotlib is imported: plots go to the notebook.
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    for name in WARM_UP:
        importlib.import_module(name)
    if policy:
        sandbox.preload()  # as a fresh sandboxed kernel loads it

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(16)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stdout.write("ready\n")
    sys.stdout.flush()

    kernels = {}  # proxy connection -> kernel pid
    try:
        while os.getppid() == parent:  # the grading process is gone: stop
            ready, _, _ = select.select([listener, *kernels], [], [], 0.2)
            for conn in ready:
                if conn is listener:
                    conn, _ = listener.accept()
                    try:
                        pid = _fork_kernel(conn, listener, kernels)
                    except (OSError, ValueError, KeyError) as error:  # a bad request
                        print(f"fork server: refused a request ({error!r})", file=sys.stderr)
                        conn.close()
                        continue
                    if pid:
                        kernels[conn] = pid
                elif not conn.recv(1):  # the proxy has gone: so does its kernel
                    _kill(kernels.pop(conn))
                    conn.close()
            _reap(kernels)
    finally:
        for pid in kernels.values():
            _kill(pid)


def _fork_kernel(conn, listener, kernels) -> int | None:
    """Fork a kernel for the proxy on `conn`; its pid, or None if the request was refused."""
    pid, uid, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    if uid != os.getuid():  # only the grader itself, never a student's kernel
        conn.close()
        return None
    message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
    request = json.loads(message)
    kernel = os.fork()
    if kernel == 0:
        status = 1
        try:
            listener.close()
            for other in kernels:
                other.close()
            conn.close()
            _run_kernel(request, fds)
            status = 0
        except SystemExit as exit:
            status = exit.code if isinstance(exit.code, int) else 1
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            _exit(status)
    for fd in fds:
        os.close(fd)
    conn.send(json.dumps({"pid": kernel}).encode())
    return kernel


def _run_kernel(request: dict, fds: list[int]) -> None:
    """In the forked child: become the kernel the proxy asked for."""
    from autograder import sandbox

    os.setsid()
    for target, fd in zip((0, 1, 2), fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    connection_file = request["connection_file"]
    # The connection to the grader's checker opens before the sandbox hides its folder.
    from rnncourse import remote

    remote.connect_from_environment()
    policy = os.environ.pop(sandbox.POLICY_ENV, None)
    if policy:
        sandbox.unshare_mounts()
        connection_file = sandbox.enter(json.loads(policy), connection_file)
    # ipykernel stops when its parent goes: its parent is this server now.
    options = [*request["argv"], f"--IPKernelApp.parent_handle={os.getppid()}"]
    sandbox.launch(connection_file, options)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _reap(kernels: dict) -> None:
    """Tell each proxy whose kernel has exited how it ended."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        for conn, kernel in list(kernels.items()):
            if kernel == pid:
                try:
                    conn.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
                except OSError:
                    pass
                conn.close()
                del kernels[conn]


# ---------------------------------------------------------------------------
# The proxy: what jupyter_client starts
# ---------------------------------------------------------------------------


def proxy(argv: list[str]) -> int:
    parent = os.getppid()
    connection_file, rest = argv[0], argv[1:]
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    conn.connect(os.environ[SOCKET_ENV])
    request = {
        "connection_file": os.path.abspath(connection_file),
        "argv": rest,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
    }
    socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
    reply = conn.recv(4096)
    if not reply:
        return 1
    kernel = json.loads(reply)["pid"]
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, lambda number, _: _forward(kernel, number))
    conn.settimeout(0.5)
    while os.getppid() == parent:  # the grader is gone: closing the connection ends the kernel
        try:
            reply = conn.recv(4096)
        except TimeoutError:
            continue
        code = json.loads(reply)["exit"] if reply else 1
        return code if code >= 0 else 128 - code
    return 1


def _forward(kernel: int, number: int) -> None:
    try:
        os.kill(kernel, number)
    except ProcessLookupError:
        pass


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2])
        _exit(0)  # at once: nothing to tidy up, and interpreter shutdown with torch is slow
    else:
        sys.exit(proxy(sys.argv[1:]))
