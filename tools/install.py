"""Install a requirements file into the running Python's environment with two pip
processes at once (`make install`; standard library only, it runs before anything else
is installed).

One `pip install -r` installs one package after another, and most of its time goes to
byte-compiling each package's files: on 2 cores, one works and the other waits. So pip
resolves the whole set first (`--dry-run --report`: the same resolution, with the same
indexes and constraints, as a plain install), two pip processes install half of it each
(`--no-deps`, each package from the file pip chose) while a third installs this project
(editable), and `pip check` proves that every requirement of every package is met.
`benchmarks/install.py` compares it with one `pip install -r`.

    python tools/install.py requirements.txt
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

PIP_INSTALL = [sys.executable, "-m", "pip", "install", "--quiet"]
LARGEST = "torch"  # about 40 % of the work alone (measured Dec. 2026)


def plan(requirements: Path) -> list[dict]:
    """What `pip install -r requirements` would install now: pip's own report."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        command = [*PIP_INSTALL, "--dry-run", "--report", str(report), "-r", str(requirements)]
        subprocess.run(command, check=True)
        return json.loads(report.read_text())["install"]


def shares(items: list[dict]) -> list[list[str]]:
    """Two lists of `name @ url` of about equal work: the largest package and a sixth of
    the others, and the other five sixths."""
    specs = {
        i["metadata"]["name"]: f"{i['metadata']['name']} @ {i['download_info']['url']}"
        for i in items
    }
    largest = [specs.pop(LARGEST)] if LARGEST in specs else []
    rest = [specs[name] for name in sorted(specs)]
    return [largest + rest[::6], [spec for k, spec in enumerate(rest) if k % 6]]


def install(requirements: Path) -> None:
    items = plan(requirements)
    editable = [i for i in items if i["download_info"].get("dir_info", {}).get("editable")]
    packages = [i for i in items if i not in editable]
    commands = [[*PIP_INSTALL, "--no-deps", *share] for share in shares(packages) if share]
    for item in editable:  # this project: its own files only, beside the others
        folder = url2pathname(urlsplit(item["download_info"]["url"]).path)
        commands.append([*PIP_INSTALL, "--no-deps", "--editable", folder])
    running = [subprocess.Popen(command) for command in commands]
    if any([process.wait() != 0 for process in running]):  # (waits for each)
        sys.exit("pip failed (above); run `make install` again once its cause is fixed")
    subprocess.run([sys.executable, "-m", "pip", "check", "--quiet"], check=True)


if __name__ == "__main__":
    install(Path(sys.argv[1]))
