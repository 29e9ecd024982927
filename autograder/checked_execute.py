"""nbgrader's Execute step, with the test cells run by the checker instead of the kernel.

The student's cells run in the (sandboxed) kernel as before. At each graded cell the
kernel runs the call server (rnncourse/remote.py) while autograder/checker.py runs
the cell's checks from `solutions/` against it; the cell's output is then the
checker's report and score, never what the kernel printed. A graded cell the checker
decided nothing for scores 0 and says why.

The code cells after the last graded one (the projects' "try it" training runs, a
student's own experiments) cannot change a score, so they are not run: they would cost
a class minutes and could only time out. Their feedback says so.
"""

import os
import threading

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient.util import run_sync
from nbgrader.preprocessors import Execute
from traitlets import Dict, Unicode

from autograder import checker
from autograder.protection import locked_cells_by_id

STUB = '__import__("rnncourse.remote", fromlist=["serve"]).serve()'
NOT_RUN = (
    "Not run by the grader: no graded cell comes after this one, so it cannot change a "
    "score. Its output is in your own notebook.\n"
)
# Flags for the grading process, by (student, notebook): read by the pipeline.
FLAGS: dict[tuple[str, str], list[str]] = {}


class CheckedExecute(Execute):
    kernel_env = Dict(help="What the grading kernel's environment adds to this process's").tag(
        config=True
    )
    kernel_specs = Unicode(
        None, allow_none=True, help="A folder with the kernel's kernelspec (kernels/<name>/)"
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        info = resources["nbgrader"]
        setup, tests = locked_cells_by_id(info["assignment"], info["notebook"])
        self.session = checker.Session(setup, tests, call_timeout=self.timeout or 120)
        self.session.interrupt = self._interrupt
        graded = [i for i, c in enumerate(nb.cells) if is_graded_code(c)]
        self.last_graded = graded[-1] if graded else len(nb.cells)
        try:
            nb, resources = super().preprocess(nb, resources, km)
        finally:
            self.session.close()
        # Scores and reports are written last: a canary late in the notebook voids
        # every instrumented check of it.
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if is_graded_code(cell):
                points, report = self.session.outcome(meta.get("grade_id"), float(meta["points"]))
                cell.outputs = [
                    nbformat.v4.new_output("stream", name="stdout", text=report + "\n"),
                    nbformat.v4.new_output(
                        "execute_result",
                        data={"text/plain": repr(float(points))},
                        execution_count=cell.get("execution_count"),
                    ),
                ]
        key = (info["student"], info["notebook"])
        FLAGS[key] = [f"{info['notebook']}: {t}" for t in self.session.tampered]
        return nb, resources

    async def async_start_new_kernel(self, **kwargs):
        """The kernel starts with its environment passed to it: this process's, the job's
        settings and where to find this notebook's checker (this process's own environment
        stays as it is)."""
        env = {**os.environ, **self.kernel_env, **self.session.environment()}
        if self.kernel_specs:  # the grader's own kernel, found there only
            folder = os.path.join(self.kernel_specs, "kernels")
            self.km.kernel_spec_manager = KernelSpecManager(kernel_dirs=[folder])
        await super().async_start_new_kernel(env=env, **kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    def _interrupt(self):
        import signal

        pid = getattr(getattr(self.km, "provisioner", None), "pid", None)
        if pid:
            try:
                os.kill(pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def preprocess_cell(self, cell, resources, index):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and index > self.last_graded:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=NOT_RUN)]
            return cell, resources
        if not is_graded_code(cell):
            return super().preprocess_cell(cell, resources, index)
        stop = threading.Event()
        worker = threading.Thread(
            target=self.session.check_cell, args=(meta.get("grade_id"), stop), daemon=True
        )
        worker.start()
        stub = nbformat.v4.new_code_cell(STUB)
        try:
            super().preprocess_cell(stub, resources, index)
        finally:
            stop.set()
            worker.join()
        cell.outputs = []
        cell.execution_count = stub.get("execution_count")
        self.nb.cells[index] = cell  # nbclient put the stand-in there
        return cell, resources


def is_graded_code(cell) -> bool:
    return cell.cell_type == "code" and bool(cell.metadata.get("nbgrader", {}).get("grade"))
