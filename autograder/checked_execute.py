"""nbgrader's Execute step, with the test cells run by the checker instead of the kernel.

The student's cells run in the (sandboxed) kernel as before. At each graded cell the
kernel runs the call server (rnncourse/remote.py) while autograder/checker.py runs
the cell's checks from `solutions/` against it; the cell's output is then the
checker's report and score, never what the kernel printed. A graded cell the checker
decided nothing for scores 0 and says why.
"""

import threading

import nbformat
from nbconvert.preprocessors import Preprocessor
from nbgrader.preprocessors import Execute

from autograder import checker
from autograder.protection import locked_cells_by_id

STUB = '__import__("rnncourse.remote", fromlist=["serve"]).serve()'
# Flags for the grading process, by (student, notebook): read by the pipeline.
FLAGS: dict[tuple[str, str], list[str]] = {}


class CheckedExecute(Execute):
    def preprocess(self, nb, resources=None, km=None):
        info = resources["nbgrader"]
        setup, tests = locked_cells_by_id(info["assignment"], info["notebook"])
        self.session = checker.Session(setup, tests, call_timeout=self.timeout or 120)
        self.session.interrupt = self._interrupt
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
            if cell.cell_type == "code" and meta.get("grade"):
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
        if cell.cell_type != "code" or not meta.get("grade"):
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


class RequireScore(Preprocessor):
    """For assignments whose tests still run in the kernel: a graded cell that shows no
    score (nbgrader would give it full marks) scores 0 and says why."""

    enabled = True

    def preprocess_cell(self, cell, resources, index):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade"):
            return cell, resources
        results = [o for o in cell.get("outputs", []) if o.get("output_type") == "execute_result"]
        text = results[0].get("data", {}).get("text/plain", "") if results else ""
        try:
            points = float(text)
            ok = 0 <= points <= float(meta.get("points", 0))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            reason = f"no score was shown (got {str(text)[:40]!r}): 0 points"
            cell.outputs = [
                nbformat.v4.new_output("stream", name="stdout", text=reason + "\n"),
                nbformat.v4.new_output(
                    "execute_result", data={"text/plain": "0.0"}, execution_count=None
                ),
            ]
        return cell, resources
