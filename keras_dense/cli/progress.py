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
