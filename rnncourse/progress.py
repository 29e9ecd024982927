"""Progress of a long loop as a few plain lines, which read the same live and in the book.

progress = Progress(1500, "steps")
for step in range(1, 1501):
    ...
    progress(step)          # prints at 25 %, 50 %, 75 % and 100 %
"""

import time


class Progress:
    """Call it with the number of steps done; it prints a line at each of `parts` marks:
    steps done, seconds so far, and an estimate of the seconds left."""

    def __init__(self, total: int, what: str = "steps", parts: int = 4):
        self.total, self.what, self.parts = total, what, parts
        self.start = time.perf_counter()
        self.next_mark = 1

    def __call__(self, done: int, note: str = "") -> None:
        if self.next_mark > self.parts or done * self.parts < self.next_mark * self.total:
            return
        while self.next_mark <= self.parts and done * self.parts >= self.next_mark * self.total:
            self.next_mark += 1
        elapsed = time.perf_counter() - self.start
        left = elapsed * (self.total - done) / max(done, 1)
        line = f"  {done}/{self.total} {self.what} ({done / self.total:.0%}): {elapsed:.0f} s"
        line += f", about {left:.0f} s left" if done < self.total else ", done"
        print(line + (f"; {note}" if note else ""))
