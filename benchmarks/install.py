"""`make install`'s two pip processes (tools/install.py) against one `pip install -r`:
each into a fresh virtual environment, one after the other, timed side by side.

    python3 benchmarks/install.py   # about 2 minutes; needs only Python and pip's indexes
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO / "requirements.txt"


def fresh_python(folder: Path) -> str:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    python = str(folder / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    return python


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    seconds = {}
    with tempfile.TemporaryDirectory() as folder:
        python = fresh_python(Path(folder) / "one")
        seconds["pip install -r"] = timed([python, "-m", "pip", "install", "-r", str(REQUIREMENTS)])
        python = fresh_python(Path(folder) / "two")
        seconds["tools/install.py"] = timed(
            [python, str(REPO / "tools" / "install.py"), str(REQUIREMENTS)]
        )
    for name, value in seconds.items():
        print(f"{name:18s} {value:6.1f} s")
    print(f"ratio {seconds['tools/install.py'] / seconds['pip install -r']:.2f}")


if __name__ == "__main__":
    main()
