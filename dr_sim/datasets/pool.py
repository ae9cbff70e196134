"""Render shards in worker processes (spawn, one env each) with a progress bar, and lock a data set folder."""

from __future__ import annotations

import multiprocessing
import queue
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

from dr_sim.datasets.config import GeneratorConfig
from dr_sim.datasets.shards import (
    shard_path,
    write_shard,
)
from dr_sim.datasets.source import ImageSource
from dr_sim.errors import ConfigError, DrSimError
from dr_sim.preview import quiet_native_stdout

EXPORTS = ("coco",)
LOCK_FILE = ".lock"
POLL_S = 0.2  # s between progress updates while workers run


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


# -- workers ----------------------------------------------------------------------------------------
def _worker_main(config: dict[str, Any], root: str, count: int, tasks: Any, results: Any) -> None:
    """A worker process: one env; takes shard numbers from ``tasks`` until ``None``; reports to ``results``
    ``("image",)`` per image, ``("shard", n)`` per shard written, or ``("error", kind, message)``."""
    try:
        source = ImageSource(GeneratorConfig.model_validate(config))
        try:
            while (shard := tasks.get()) is not None:
                data = source.shard(shard, count, lambda: results.put(("image",)))
                write_shard(shard_path(Path(root), shard), data, compress=source.config.compress)
                results.put(("shard", shard))
        finally:
            source.close()
    except ConfigError as error:
        results.put(("error", "config", str(error)))
    except DrSimError as error:
        results.put(("error", "dr_sim", str(error)))
    except Exception:
        results.put(("error", "bug", traceback.format_exc()))


def _start_quietly(processes: list[Any]) -> None:
    """Start worker processes with a silent stdout (PyBullet prints on import and connect) and Ctrl-C
    ignored from their first instruction on (the parent terminates them; no traceback per worker)."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    try:
        with quiet_native_stdout():
            for process in processes:
                process.start()
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)


def run_pool(config: dict[str, Any], root: Path, count: int, pending: list[int], workers: int, bar: Progress) -> None:
    """Render ``pending`` shards with ``workers`` spawned processes; on any error or Ctrl-C the workers
    are terminated (a shard being written is then absent: it was never renamed into place)."""
    context = multiprocessing.get_context("spawn")
    tasks, results = context.Queue(), context.Queue()
    for shard in pending:
        tasks.put(shard)
    processes = [
        context.Process(target=_worker_main, args=(config, str(root), count, tasks, results), daemon=True)
        for _ in range(workers)
    ]
    for _ in processes:
        tasks.put(None)
    try:
        _start_quietly(processes)
        written, images = 0, bar.done
        while written < len(pending):
            try:
                message = results.get(timeout=POLL_S)
            except queue.Empty:
                dead = [proc.exitcode for proc in processes if proc.exitcode not in (None, 0)]
                if dead:
                    raise DrSimError(f"a generator worker died (exit code {dead[0]}); rerun to resume") from None
                if all(proc.exitcode is not None for proc in processes):
                    raise DrSimError(
                        "the generator workers ended before every shard was written; rerun to resume"
                    ) from None
                continue
            if message[0] == "image":
                images += 1
                bar.update(images)
            elif message[0] == "shard":
                written += 1
            else:
                _, kind, text = message
                if kind == "config":
                    raise ConfigError(text)
                if kind == "dr_sim":
                    raise DrSimError(text)
                raise RuntimeError(f"a generator worker failed:\n{text}")
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join()
        tasks.close()
        results.close()


# -- the command --------------------------------------------------------------------------------------
class DatasetLock:
    """Hold an exclusive lock on ``root/.lock`` (two runs into one folder would race); released when
    the process ends, however it ends."""

    def __init__(self, root: Path) -> None:
        self.path = root / LOCK_FILE
        self.handle: Any = None

    def __enter__(self) -> None:
        try:
            import fcntl
        except ImportError:  # no advisory locks on this platform: run unguarded
            return
        self.handle = open(self.path, "a")  # held until __exit__
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.close()
            raise DrSimError(
                f"another dr-sim generate is writing {str(self.path.parent)!r}; wait for it to end"
            ) from None

    def __exit__(self, *_: object) -> None:
        if self.handle is not None:
            self.handle.close()
