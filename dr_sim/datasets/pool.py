"""What a ``dr-sim generate`` run needs around its renderer: the worker that renders shards (on any
``dr_sim.backends`` backend) and the lock on a data set folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from dr_sim.datasets.config import GeneratorConfig
from dr_sim.datasets.shards import encode_shard
from dr_sim.datasets.source import ImageSource
from dr_sim.errors import DrSimError

LOCK_FILE = ".lock"


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
