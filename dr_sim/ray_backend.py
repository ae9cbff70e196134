"""The ``ray`` backend of ``dr_sim.backends``: workers are Ray actors (one CPU each) of a Ray cluster.

Only ``dr_sim.backends`` uses this module, and only for ``--backend ray``; Ray itself is imported when a
Ray backend connects (``connection``), so ``import dr_sim`` never imports Ray. A worker's result travels
back to this process through Ray's object store, so the nodes need no folder shared with this machine
(they need dr_sim and its dependencies installed).
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

from dr_sim.errors import DrSimError
from dr_sim.extras import require
from dr_sim.worker_pool import CLOSE_S, Event

CONNECT_S = 10.0  # s to wait for the head's port to answer (Ray itself would retry for minutes)
HINT = "start one with 'ray start --head' and give --address auto on its machines, or HOST:PORT of its head elsewhere"


def connect(ray: Any, address: str | None, workers: int) -> bool:
    """Connect to the cluster at ``address`` (``None``: start Ray here with ``workers`` CPUs) unless this
    process is connected already; returns whether this call connected (and so must disconnect)."""
    if ray.is_initialized():
        return False
    if address is not None and address != "auto":
        host, _, port = address.removeprefix("ray://").rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=CONNECT_S).close()
        except OSError as error:
            raise DrSimError(f"nothing answers at --address {address} ({error}); {HINT}") from None
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if address is None:
            ray.init(num_cpus=workers, include_dashboard=False, **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = f"at --address {address}" if address else "on this machine"
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DrSimError(f"could not start or reach a Ray cluster {where} ({first}); {HINT}") from None
    return True


@contextlib.contextmanager
def connection(address: str | None, workers: int) -> Iterator[Any]:
    """The ``ray`` module, connected inside the block (see ``connect``); disconnected after if it connected."""
    ray = require("ray", "--backend ray")  # present: dr_sim.backends.Backend checked
    connected = connect(ray, address, workers)
    try:
        yield ray
    finally:
        if connected:
            ray.shutdown()


class RayHost:
    """The body of one actor: the worker built from ``(worker_class, args)``. An error while building it
    is raised by each ``run`` (so it reaches the caller as the worker's own exception, not a dead actor)."""

    def __init__(self, worker_class: type, args: tuple[Any, ...]) -> None:
        self.worker: Any = None
        self.error: Exception | None = None
        try:
            self.worker = worker_class(*args)
        except Exception as error:
            self.error = error

    def run(self, unit: Any) -> Any:
        if self.error is not None:
            raise self.error
        return self.worker(unit, lambda: None)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()


class RayPool:
    """``dr_sim.backends.Pool`` on Ray actors (of the cluster ``ray`` is connected to); a unit whose actor
    died is reported ``died``."""

    def __init__(self, ray: Any, worker_class: type, args: tuple[Any, ...]) -> None:
        self.ray = ray
        self.actor_class = self.ray.remote(num_cpus=1, max_restarts=0)(RayHost)
        self.job = (worker_class, args)
        self.actors: dict[int, Any] = {}
        self.running: dict[Any, int] = {}  # object ref -> actor
        self.count = 0

    def start(self) -> int:
        self.count += 1
        self.actors[self.count] = self.actor_class.remote(*self.job)
        return self.count

    def submit(self, worker: int, unit: Any) -> None:
        self.running[self.actors[worker].run.remote(unit)] = worker

    def wait(self, timeout: float) -> list[Event]:
        if not self.running:
            return []
        exceptions = self.ray.exceptions
        ready, _ = self.ray.wait(list(self.running), num_returns=1, timeout=timeout)
        events: list[Event] = []
        for ref in ready:
            worker = self.running.pop(ref)
            try:
                events.append((worker, "done", self.ray.get(ref)))
            except (exceptions.RayActorError, exceptions.WorkerCrashedError, exceptions.ObjectLostError) as error:
                events.append((worker, "died", str(error).strip().splitlines()[0]))
            except exceptions.RayTaskError as error:
                cause = getattr(error, "cause", None)
                events.append((worker, "error", cause if isinstance(cause, DrSimError) else RuntimeError(str(error))))
        return events

    def stop(self, worker: int) -> None:
        self.ray.kill(self.actors.pop(worker))

    def close(self, graceful: bool) -> None:
        """End every actor (after its worker's ``close()`` when ``graceful``)."""
        if graceful:
            closing = [actor.close.remote() for actor in self.actors.values()]
            with contextlib.suppress(self.ray.exceptions.RayError):
                self.ray.wait(closing, num_returns=len(closing), timeout=CLOSE_S)
        for worker in list(self.actors):
            self.stop(worker)
        self.running.clear()
