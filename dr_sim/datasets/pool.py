"""What a ``dr-sim generate`` run needs around its renderer: the worker that renders shards (on any
``dr_sim.backends`` backend), the progress bar and the lock on a data set folder."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from filelock import FileLock, Timeout

from dr_sim.datasets.config import GeneratorConfig
from dr_sim.datasets.shards import encode_shard
from dr_sim.datasets.source import ImageSource
from dr_sim.errors import DrSimError

LOCK_FILE = ".lock"


class Progress:
    """A one-line progress bar on ``stream``: images done of the total and images/s of this run.

    On a terminal the line is redrawn in place (at most 10 times a second); elsewhere (a log file) a
    line is printed every 10 s.
    """

    def __init__(self, total: int, done: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total, self.start_done, self.done = total, done, done
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = self.last = time.perf_counter()
        self.interval = 0.1 if self.tty else 10.0

    def rate(self) -> float:
        """Images per second rendered by this run so far."""
        elapsed = time.perf_counter() - self.start
        return (self.done - self.start_done) / elapsed if elapsed > 0 else 0.0

    def update(self, done: int, *, final: bool = False) -> None:
        self.done = done
        now = time.perf_counter()
        if not self.enabled or (not final and now - self.last < self.interval):
            return
        self.last = now
        width = 30
        filled = int(width * done / self.total) if self.total else width
        line = (
            f"generate [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} images {self.rate():.1f} images/s"
        )
        self.stream.write(f"\r{line}" if self.tty else f"{line}\n")
        if final and self.tty:
            self.stream.write("\n")
        self.stream.flush()


class ShardRenderer:
    """A generator worker (``dr_sim.backends.Worker``): one env of a resolved generator config, rendering
    shard ``k`` of a set of ``count`` images into the bytes of its file (written by the caller)."""

    def __init__(self, config: dict[str, Any], count: int) -> None:
        self.source = ImageSource(GeneratorConfig.model_validate(config))
        self.count = count

    def __call__(self, shard: int, tick: Callable[[], None]) -> bytes:
        """The ``.npz`` bytes of ``shard``; ``tick()`` after each image."""
        return encode_shard(self.source.shard(shard, self.count, tick), compress=self.source.config.compress)

    def close(self) -> None:
        self.source.close()


class DatasetLock:
    """Hold an exclusive lock on ``root/.lock`` (two runs into one folder would race), through the
    ``filelock`` package: released when the block ends or the process does, however it ends. A second
    writer is refused at once with one line."""

    def __init__(self, root: Path) -> None:
        self.path = root / LOCK_FILE
        self.lock = FileLock(self.path)

    def __enter__(self) -> None:
        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            raise DrSimError(
                f"another dr-sim generate is writing {str(self.path.parent)!r}; wait for it to end"
            ) from None

    def __exit__(self, *_: object) -> None:
        self.lock.release()
