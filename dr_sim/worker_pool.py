"""What ``dr_sim.backends`` and its pools share: the worker and pool protocols and the events a pool reports.

Its own module so that every pool (the local process pool in ``dr_sim.backends``, the Ray actors in
``dr_sim.ray_backend``) imports it from below, and no pool imports the scheduler that runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

CLOSE_S = 5.0  # s a worker gets to close after the last unit before it is terminated

#: What a worker pool reports about one worker: ``("tick", None)``, ``("done", result)``,
#: ``("error", exception)`` or ``("died", reason)``.
Event = tuple[int, str, Any]


class Worker(Protocol):
    """What ``run_units`` runs: built once per worker process, called once per unit."""

    def __call__(self, unit: Any, tick: Callable[[], None]) -> Any: ...

    def close(self) -> None: ...


class Pool(Protocol):
    """Workers of one backend, each known by an integer id."""

    def start(self) -> int: ...

    def submit(self, worker: int, unit: Any) -> None: ...

    def wait(self, timeout: float) -> list[Event]: ...

    def stop(self, worker: int) -> None: ...

    def close(self, graceful: bool) -> None: ...
