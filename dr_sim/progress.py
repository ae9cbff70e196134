"""Progress bars on stderr, through ``tqdm`` (a small, dependency-free, well-kept library; it handles
terminals, redraw rates, rates and time left, so dr_sim keeps no bar of its own).

On a terminal a bar is redrawn in place at most 10 times a second; elsewhere (a log file, CI) a line is
written at most every 10 s, so logs stay short. Every bar goes to stderr: ``--json`` output on stdout
stays one clean object.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

TERMINAL_INTERVAL = 0.1  # s between redraws on a terminal
LOG_INTERVAL = 10.0  # s between lines in a log file


class Progress:
    """A count of ``total`` ``unit``s labelled ``what``, drawn as a ``tqdm`` bar when ``enabled``.

    ``done``: units done before this run (resumed work); ``rate()`` counts only this run's. The count and
    the rate hold whether or not the bar is drawn.
    """

    def __init__(
        self,
        total: int,
        what: str,
        unit: str,
        *,
        done: int = 0,
        enabled: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        self.total, self.start_done, self.done = total, done, done
        self.start = time.perf_counter()
        stream = stream if stream is not None else sys.stderr
        terminal = bool(getattr(stream, "isatty", lambda: False)())
        self.bar = tqdm(
            total=total,
            initial=done,
            desc=what,
            unit=f" {unit}",
            file=stream,
            disable=not enabled,
            mininterval=TERMINAL_INTERVAL if terminal else LOG_INTERVAL,
            dynamic_ncols=terminal,
            ascii=not terminal,
        )

    def update(self, done: int, *, final: bool = False) -> None:
        """Move to ``done`` units; ``final``: the last update (the bar is drawn once more and closed)."""
        if done != self.done:
            self.bar.update(done - self.done)
            self.done = done
        if final:
            self.bar.close()

    def advance(self, units: int = 1) -> None:
        """``units`` more done."""
        self.update(self.done + units)

    def label(self, text: str) -> None:
        """Show ``text`` beside the bar (what is being done now)."""
        self.bar.set_postfix_str(text)

    def rate(self) -> float:
        """Units per second done by this run so far."""
        elapsed = time.perf_counter() - self.start
        return (self.done - self.start_done) / elapsed if elapsed > 0 else 0.0

    def close(self) -> None:
        """Close the bar where it stands (an interrupted run)."""
        self.bar.close()
