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

import threading

import nbformat
from nbgrader.preprocessors import Execute

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
    def preprocess(self, nb, resources=None, km=None):
        info = resources["nbgrader"]
        setup, tests = locked_cells_by_id(info["assignment"], info["notebook"])
        self.session = checker.Session(setup, tests, call_timeout=self.timeout or 120)
        self.session.interrupt = self._interrupt
        graded = [i for i, c in enumerate(nb.cells) if is_graded_code(c)]
        self.last_graded = graded[-1] if graded else len(nb.cells)
        import os

        saved = {k: os.environ.get(k) for k in self.session.environment()}
        os.environ.update(self.session.environment())
        try:
            nb, resources = super().preprocess(nb, resources, km)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
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

    def _interrupt(self):
        import os
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
