"""Fingerprints of the known mistakes, shipped to students as rnncourse/known_mistakes.json.

Each known mistake (solutions/<slug>/<notebook>_mistakes.py) is run through its function's probe
(rnncourse/diagnosis.py) next to the reference solution. A mistake whose probe
results differ from the reference's is *diagnosable*: its results and hint are
written out, and a student whose function gives the same results is told the
hint. A mistake that raises, or that only shows on a GPU or in a rule about
built-ins, gives no fingerprint; its check's own message explains it.

The reference's own probe results go to solutions/reference_fingerprints.json, which
stays with the grader: its checker names a slip outside the bank by its family
(rnncourse/diagnosis.py), and no student's kernel can read them.
"""

import json
import re

from autograder.config import REPO, SOLUTIONS
from autograder.mistakes import for_assignment
from rnncourse.diagnosis import KNOWN_MISTAKES, fingerprint, same_fingerprint

OUTPUT = REPO / "rnncourse" / KNOWN_MISTAKES
REFERENCES = SOLUTIONS / "reference_fingerprints.json"  # never shipped


def references() -> dict:
    """function name -> the reference solution's fingerprint (written by `write`)."""
    return json.loads(REFERENCES.read_text()) if REFERENCES.is_file() else {}


MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def reference_namespace(assignment: str) -> dict:
    """A namespace holding every function of the assignment's reference solution."""
    namespace = {"__name__": f"reference_{assignment.replace('-', '_')}"}
    for path in sorted((SOLUTIONS / assignment).glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if cell["cell_type"] == "code" and (meta.get("solution") or meta.get("locked")):
                if meta.get("grade"):
                    continue  # test cells
                source = "".join(cell["source"])
                code = "\n".join(line for line in source.splitlines() if not MARKER.match(line))
                exec(compile(code, f"{path.name}:{meta['grade_id']}", "exec"), namespace)
    return namespace


def build(assignments: list[str]) -> tuple[dict, dict, dict]:
    """(function name -> diagnosable mistakes [{mistake, hint, fingerprint}], function name
    -> the reference's fingerprint, a report)."""
    known, references, report = {}, {}, {}
    for assignment in assignments:
        reference = reference_namespace(assignment)
        mistakes, _ = for_assignment(assignment)
        diagnosable = 0
        for mistake in mistakes:
            namespace = dict(reference)
            exec(mistake.code, namespace)
            found = fingerprint(mistake.function, namespace[mistake.function])
            correct = fingerprint(mistake.function, reference[mistake.function])
            if correct is not None:
                references[mistake.function] = correct
            if found is None or same_fingerprint(found, correct):
                continue
            diagnosable += 1
            entries = known.setdefault(mistake.function, [])
            twin = next((e for e in entries if same_fingerprint(found, e["fingerprint"])), None)
            if twin:  # two slips, one behaviour: name both
                twin["mistakes"].append(mistake.name)
                twin["hint"] += f"; or: {mistake.hint}"
                continue
            entries.append({"mistakes": [mistake.name], "hint": mistake.hint, "fingerprint": found})
        report[assignment] = (diagnosable, len(mistakes))
    return known, references, report


def write(assignments: list[str]) -> dict:
    """Write the two fingerprint files; return {assignment: (diagnosable, known)}."""
    known, references, report = build(assignments)
    OUTPUT.write_text(json.dumps(known, indent=0, sort_keys=True) + "\n")
    REFERENCES.write_text(json.dumps(references, indent=0, sort_keys=True) + "\n")
    return report
