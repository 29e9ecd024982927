"""Grading kernels forked from a warm process (autograder/forkserver.py), with real
kernels started by jupyter_client as nbgrader starts them."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
from jupyter_client.manager import KernelManager

from autograder import forkserver

pytestmark = pytest.mark.skipif(
    not forkserver.available(),
    reason="forked kernels need POSIX and no GPU (CUDA does not survive a fork)",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One fork server for the module's kernels (it imports PyTorch: seconds to start)."""
    jupyter = tmp_path_factory.mktemp("jupyter")
    forkserver.install_kernelspec(jupyter)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(jupyter))
        patch.setenv(forkserver.SOCKET_ENV, forkserver.ensure_server({}))
        yield
    forkserver.stop_server()


@pytest.fixture
def kernels(server, tmp_path, monkeypatch):
    """Start forked kernels in tmp_path/work; yields a function that starts one."""
    # The module's server, or a new one if a test stopped it; the kernels' proxies find it.
    monkeypatch.setenv(forkserver.SOCKET_ENV, forkserver.ensure_server({}))
    (tmp_path / "work").mkdir()
    started = []

    def start():
        manager = KernelManager(
            kernel_name=forkserver.KERNEL_NAME, transport="ipc", ip=str(tmp_path / "kernel")
        )
        manager.start_kernel(cwd=str(tmp_path / "work"))
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        started.append((manager, client))
        return manager, client

    yield start
    for manager, client in started:
        client.stop_channels()
        if manager.is_alive():
            manager.shutdown_kernel(now=True)


def run(client, code: str, timeout: float = 30) -> tuple[str, dict]:
    """(what the code printed, the execute reply's content)."""
    printed = []

    def output(message):
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])

    reply = client.execute_interactive(code, timeout=timeout, output_hook=output)
    return "".join(printed), reply["content"]


def gone(pid: int, within: float = 10.0) -> bool:
    """Whether process `pid` has ended (or become a zombie) within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


def test_a_forked_kernel_is_warm_and_runs_in_its_folder(kernels, tmp_path):
    _, client = kernels()
    printed, reply = run(client, "import os, sys\nprint('torch' in sys.modules, os.getcwd())")
    assert reply["status"] == "ok"
    assert printed.split() == ["True", str(tmp_path / "work")]


def test_kernels_are_separate_processes(kernels):
    pids = {run(kernels()[1], "import os; print(os.getpid())")[0] for _ in range(2)}
    assert len(pids) == 2


def test_an_interrupt_reaches_the_kernel(kernels):
    manager, client = kernels()
    client.execute("import time\ntime.sleep(60)")
    time.sleep(1)
    manager.interrupt_kernel()
    reply = client.get_shell_msg(timeout=10)
    assert reply["content"]["ename"] == "KeyboardInterrupt"


def test_a_kernel_that_exits_is_seen_to_die(kernels):
    manager, client = kernels()
    client.execute("import os; os._exit(3)")
    deadline = time.monotonic() + 10
    while manager.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not manager.is_alive()
    assert manager.provisioner.process.returncode == 3


def test_killing_the_kernel_process_kills_the_forked_kernel(kernels):
    manager, client = kernels()
    pid = int(run(client, "import os; print(os.getpid())")[0])
    # SIGKILL, as jupyter_client does to a kernel that hangs.
    os.killpg(manager.provisioner.pgid, signal.SIGKILL)
    assert gone(pid)


def test_the_server_goes_with_its_grading_process(tmp_path):
    grader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import time
                from autograder import forkserver
                forkserver.ensure_server({})
                print(forkserver._server[1].pid, flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    server = int(grader.stdout.readline())
    grader.kill()
    grader.wait()
    assert gone(server)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to connect as another user")
def test_only_the_grader_may_ask_for_a_kernel(kernels):
    kernels()  # the server is running
    path = os.environ[forkserver.SOCKET_ENV]
    assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
    os.chmod(os.path.dirname(path), 0o755)  # as if a student could reach the socket
    try:
        child = os.fork()
        if child == 0:
            answered = 1
            try:
                os.setuid(65534)
                conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                conn.connect(path)
                socket.send_fds(conn, [b'{"cwd": "/"}'], [0, 1, 2])
                answered = 1 if conn.recv(4096) else 0
            except OSError:
                answered = 0
            finally:
                os._exit(answered)
        _, status = os.waitpid(child, 0)
    finally:
        os.chmod(os.path.dirname(path), 0o700)  # the server is the module's
    assert os.waitstatus_to_exitcode(status) == 0, "the server answered another user"


def test_worker_processes_share_the_server_their_grader_started(tmp_path, monkeypatch):
    """As the pipeline does: the grader starts the server without waiting for it, starts
    its workers, and waits before the first kernel; a worker's kernel is forked by it."""
    forkserver.install_kernelspec(tmp_path / "jupyter")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    path = forkserver.ensure_server({}, wait=False)
    monkeypatch.setenv(forkserver.SOCKET_ENV, path)  # as the grader hands it to its workers
    try:
        forkserver.wait_until_ready()
        forkserver.wait_until_ready()  # once ready, at once
        worker = textwrap.dedent(
            f"""
            from jupyter_client.manager import KernelManager
            manager = KernelManager(kernel_name={forkserver.KERNEL_NAME!r}, transport="ipc",
                                    ip={str(tmp_path / "kernel")!r})
            manager.start_kernel(cwd={str(tmp_path)!r})
            client = manager.client()
            client.start_channels()
            client.wait_for_ready(timeout=60)
            reply = client.execute_interactive("import os; print(os.getppid())", timeout=30,
                output_hook=lambda m: m["msg_type"] == "stream" and print(m["content"]["text"]))
            manager.shutdown_kernel(now=True)
            """
        )
        printed = subprocess.run(
            [sys.executable, "-c", worker], capture_output=True, text=True, timeout=120
        ).stdout
        assert int(printed.split()[0]) == forkserver._server[1].pid  # forked by the server
    finally:
        forkserver.stop_server()


def test_the_gradebook_revision_read_here_is_nbgraders():
    """The grader reads nbgrader's gradebook revision in its own process instead of
    running the `alembic` command (2 s per grading run); the answer is the same."""
    from nbgrader import api

    from autograder.config import read_gradebook_revision_here

    bindir = os.path.dirname(sys.executable)
    command = "import nbgrader.api as api; print(api.get_alembic_version())"
    theirs = subprocess.run(
        [sys.executable, "-c", command],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PATH": bindir + os.pathsep + os.environ["PATH"]},
    ).stdout.strip()
    read_gradebook_revision_here()
    assert api.get_alembic_version() == theirs
    assert len(theirs) == 12
