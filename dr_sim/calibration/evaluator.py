"""Run batches of replays on workers that live for a whole calibration.

``dr_sim.backends.run_units`` starts its workers for one call; an optimiser asks for a new batch every
generation, so ``Evaluator`` keeps one pool open instead (the same pools: spawned local processes, or Ray
actors with ``--backend ray``) and hands each batch's units to idle workers. Results come back in the
order of the units, whatever worker ran them, so a seed gives the same numbers for any ``--workers``. A
unit whose worker dies runs again on a fresh one (``Backend.retries`` times at most).
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from dr_sim.backends import POLL_S, Backend, ProcessPool
from dr_sim.errors import DrSimError
from dr_sim.ray_backend import RayPool
from dr_sim.worker_pool import Pool, Worker


class Evaluator:
    """``map(units)`` runs ``worker_class(*args)`` on every unit: in this process with one local worker,
    else on a pool of ``workers`` kept open until ``close()`` (a context manager)."""

    def __init__(
        self, worker_class: type, args: tuple[Any, ...], workers: int = 1, backend: Backend | None = None
    ) -> None:
        self.backend = backend or Backend()
        self.workers = workers
        self.inline: Worker | None = None
        self.pool: Pool | None = None
        self.idle: list[int] = []
        self._stack = contextlib.ExitStack()
        if self.backend.kind == "local" and workers == 1:
            self.inline = worker_class(*args)
            return
        if self.backend.kind == "ray":
            ray = self._stack.enter_context(self.backend.open(workers))
            self.pool = RayPool(ray, worker_class, args)
        else:
            self.pool = ProcessPool(worker_class, args)
        self.idle = [self.pool.start() for _ in range(workers)]

    def map(self, units: Sequence[Any]) -> list[Any]:
        """The result of every unit, in order."""
        if self.inline is not None:
            return [self.inline(unit, lambda: None) for unit in units]
        assert self.pool is not None
        pool = self.pool
        results: list[Any] = [None] * len(units)
        todo = deque(range(len(units)))
        failures = [0] * len(units)
        busy: dict[int, int] = {}
        while todo or busy:
            while self.idle and todo:
                worker, index = self.idle.pop(), todo.popleft()
                busy[worker] = index
                pool.submit(worker, units[index])
            for worker, kind, value in pool.wait(POLL_S):
                if kind == "tick":
                    continue
                index = busy.pop(worker, -1)
                if kind == "done":
                    results[index] = value
                    self.idle.append(worker)
                elif kind == "error":
                    raise value
                else:  # died
                    pool.stop(worker)
                    if worker in self.idle:
                        self.idle.remove(worker)
                    self.idle.append(pool.start())
                    if index < 0:
                        continue
                    failures[index] += 1
                    if failures[index] > self.backend.retries:
                        raise DrSimError(
                            f"a replay failed {failures[index]} times: its worker died each time (last: {value}); "
                            "check the workers' memory and logs, then rerun"
                        )
                    todo.appendleft(index)
        return results

    def close(self, graceful: bool = True) -> None:
        if self.inline is not None:
            self.inline.close()
            self.inline = None
        if self.pool is not None:
            self.pool.close(graceful)
            self.pool = None
        self._stack.close()

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close(graceful=kind is None)
