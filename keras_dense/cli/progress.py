"""A one-line progress bar on stderr, for commands that go through many images."""

import sys

WIDTH = 30


class ProgressBar:
    """`[=====.....] done/total` on stderr, redrawn in place; silent when not `enabled`.

    Args:
        total: the count at which the bar is full.
        enabled: whether to draw at all (e.g. only for runs longer than one batch).

    Example:
        >>> bar = ProgressBar(100, enabled=True)
        >>> bar.update(50)
    """

    def __init__(self, total, enabled=True):
        self.total, self.done, self.enabled = total, 0, enabled

    def update(self, done, total=None):
        """Draws the bar at `done` of `total` (default: the bar's total)."""
        self.done, self.total = done, total or self.total
        if self.enabled and self.total:
            filled = int(WIDTH * self.done / self.total)
            sys.stderr.write(f"\r[{'=' * filled}{'.' * (WIDTH - filled)}] {self.done}/{self.total}")
            if self.done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    def advance(self):
        """One more done."""
        self.update(self.done + 1)


class JobProgress:
    """Progress of a long job on stderr: a bar with images/s and the time left on a
    terminal, else one line every `every` images (logs stay readable).

    Args:
        total: images to do.
        every: images between two lines when stderr is not a terminal.
        stream: where to write (default: `sys.stderr`).

    Example:
        >>> progress = JobProgress(20000)
        >>> progress(640, 20000)      # done, total: the folder job's callback
    """

    def __init__(self, total, every=1000, stream=None):
        import time

        self.stream = stream or sys.stderr
        self.total, self.every, self.clock = total, every, time.monotonic
        self.start, self.last_line = self.clock(), 0
        self.terminal = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __call__(self, done, total=None):
        self.total = total or self.total
        elapsed = max(self.clock() - self.start, 1e-9)
        rate = done / elapsed
        left = (self.total - done) / rate if rate else float("inf")
        eta = f"{int(left // 60)}:{int(left % 60):02d}" if left != float("inf") else "?"
        text = f"{done}/{self.total} images, {rate:.1f} images/s, {eta} left"
        if self.terminal:
            filled = int(WIDTH * done / self.total) if self.total else WIDTH
            self.stream.write(f"\r[{'=' * filled}{'.' * (WIDTH - filled)}] {text}  ")
            if done >= self.total:
                self.stream.write("\n")
        elif done - self.last_line >= self.every or done >= self.total:
            self.last_line = done
            self.stream.write(f"keras-dense: {text}\n")
        self.stream.flush()
