"""Where units of work run: this process, a pool of spawned local processes, or a Ray cluster.

A job is a worker class and its constructor arguments. Each worker process builds one instance once
(``worker = Worker(*args)``: the costly part, an env or a policy), then calls it on units of work,
``worker(unit, tick) -> result`` (``tick()`` once per item done inside the unit, for a progress bar),
and ``worker.close()`` at the end. Units are independent and deterministic, so any worker may run any
unit: a unit whose worker dies (killed, out of memory, a lost node) runs again on a fresh worker, at
most ``Backend.retries`` more times, and its result reaches ``on_result`` exactly once, in this process.
An exception raised by a worker is not retried (it would recur): a ``DrSimError`` is raised again here
as it is, anything else as a ``RuntimeError`` holding the worker's traceback.

Backends (``--backend``):

- ``local`` (default): one worker runs in this process; more are spawned processes on this machine.
- ``ray``: each worker is a Ray actor (one CPU) of the cluster at ``--address``: ``auto`` (the cluster
  this machine joined with ``ray start``) or ``HOST:PORT`` of its head; without an address a Ray
  instance with as many CPUs as workers starts here and stops at the end. A process already connected
  to Ray (``ray.init`` ran) uses that connection. Ray is optional: ``dr_sim.ray_backend`` imports it
  only when a Ray backend connects.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import re
import signal
import threading
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from dr_sim.errors import ConfigError, DrSimError
from dr_sim.extras import available, install_line
from dr_sim.native_output import quiet_native_stdout
from dr_sim.ray_backend import RayPool, connection
from dr_sim.worker_pool import CLOSE_S, Event, Pool, Worker

BACKENDS = ("local", "ray")
RETRIES = 2  # runs of a unit after its first, each on a fresh worker, when workers die under it
POLL_S = 0.2  # s between checks for Ctrl-C while waiting for workers
ADDRESS = re.compile(r"^(auto|(ray://)?[\w.\-]+:\d+)$")
RAY_INSTALL = install_line("ray")


@dataclass(frozen=True)
class Backend:
    """Where ``run_units`` runs workers: ``kind`` ``local`` or ``ray``, the Ray cluster ``address``
    (``auto`` or ``HOST:PORT``; ``None``: a Ray instance started here) and ``retries`` per unit."""

    kind: str = "local"
    address: str | None = None
    retries: int = RETRIES

    def __post_init__(self) -> None:
        if self.kind not in BACKENDS:
            raise ConfigError(f"--backend {self.kind!r} is not a backend; allowed: {', '.join(BACKENDS)}")
        if self.address is not None and self.kind != "ray":
            raise ConfigError(
                f"--address {self.address!r} needs --backend ray (the local backend runs on this machine)"
            )
        if self.kind == "ray" and not available("ray"):
            raise DrSimError(f"--backend ray needs Ray, which is not installed here: {RAY_INSTALL}")
        if self.address is not None and not ADDRESS.match(self.address):
            raise ConfigError(
                f"--address {self.address!r}: expected auto or HOST:PORT of the Ray head (for example 10.0.0.5:6379)"
            )

    def open(self, workers: int) -> contextlib.AbstractContextManager[Any]:
        """Connected inside the block: Ray reached (or started here with ``workers`` CPUs) and left after;
        nothing to do for ``local``. ``run_units`` opens the backend itself; opening it first fails early
        (before files are written) and keeps one Ray connection for several runs."""
        if self.kind != "ray":
            return contextlib.nullcontext()
        return connection(self.address, workers)


def run_units(
    worker: type,
    args: tuple[Any, ...],
    units: Sequence[Any],
    on_result: Callable[[Any, Any], None],
    *,
    workers: int = 1,
    backend: Backend | None = None,
    on_tick: Callable[[Any, int], None] | None = None,
    what: str = "unit",
    built: Worker | None = None,
) -> int:
    """Run ``worker(*args)`` on every unit with ``workers`` workers of ``backend`` (default: local).

    ``on_result(unit, result)`` is called once per unit, in this process, in the order results arrive;
    ``on_tick(unit, ticks)`` with the ticks of the unit's current run so far (0 when it starts again on
    a fresh worker; the Ray backend reports none). ``what`` names a unit in messages (``shard 3``).
    ``built``: a worker of this job built already in this process (to check its arguments early): it
    runs the units when they run here, else it is closed first.

    Returns:
        the number of runs repeated because a worker died.

    Raises:
        DrSimError: a unit's worker died more than ``backend.retries`` times, or a worker raised one.
        RuntimeError: a worker raised another exception (the message holds its traceback).
    """
    backend = backend or Backend()
    if not units:
        return 0
    if backend.kind == "local" and (workers == 1 or len(units) == 1):
        return _run_inline(built or worker(*args), units, on_result, on_tick)
    if built is not None:
        built.close()  # the workers build their own
    with backend.open(workers) as ray:
        pool: Pool = RayPool(ray, worker, args) if backend.kind == "ray" else ProcessPool(worker, args)
        return _schedule(pool, units, on_result, min(workers, len(units)), backend.retries, on_tick, what)


def _run_inline(
    worker: Worker,
    units: Sequence[Any],
    on_result: Callable[[Any, Any], None],
    on_tick: Callable[[Any, int], None] | None,
) -> int:
    try:
        for unit in units:
            ticks = [0]

            def tick(unit: Any = unit, ticks: list[int] = ticks) -> None:
                ticks[0] += 1
                if on_tick is not None:
                    on_tick(unit, ticks[0])

            on_result(unit, worker(unit, tick))
    finally:
        worker.close()
    return 0


def _schedule(
    pool: Pool,
    units: Sequence[Any],
    on_result: Callable[[Any, Any], None],
    workers: int,
    retries: int,
    on_tick: Callable[[Any, int], None] | None,
    what: str,
) -> int:
    """Hand units to idle workers until every result is in; replace a worker that dies and run its unit
    again (``retries`` times at most per unit)."""
    todo = deque(range(len(units)))
    failures = [0] * len(units)
    ticks = [0] * len(units)
    busy: dict[int, int] = {}  # worker -> index of its unit
    graceful = False
    try:
        idle = [pool.start() for _ in range(workers)]
        while todo or busy:
            while idle and todo:
                worker, index = idle.pop(), todo.popleft()
                busy[worker] = index
                pool.submit(worker, units[index])
            for worker, kind, value in pool.wait(POLL_S):
                index = busy.pop(worker, -1)
                if kind == "tick":
                    busy[worker] = index
                    ticks[index] += 1
                    if on_tick is not None:
                        on_tick(units[index], ticks[index])
                elif kind == "done":
                    on_result(units[index], value)
                    idle.append(worker)
                elif kind == "error":
                    raise value
                else:  # died
                    pool.stop(worker)
                    if index < 0:  # an idle worker: only replace it while work waits
                        idle.remove(worker)
                        if todo:
                            idle.append(pool.start())
                        continue
                    failures[index] += 1
                    if failures[index] > retries:
                        raise DrSimError(
                            f"{what} {units[index]} failed {failures[index]} times: its worker died each time "
                            f"(last: {value}); check the workers' memory and logs, then rerun"
                        )
                    ticks[index] = 0
                    if on_tick is not None:
                        on_tick(units[index], 0)
                    todo.appendleft(index)
                    idle.append(pool.start())
        graceful = True
    finally:
        pool.close(graceful)
    return sum(failures)


# -- the local process pool -------------------------------------------------------------------------------
def _failure(error: BaseException) -> tuple[str, Any]:
    """How a worker reports an exception: a ``DrSimError`` itself, anything else as its traceback."""
    if isinstance(error, DrSimError):
        return ("error", error)
    return ("bug", traceback.format_exc())


def _serve(connection: Connection, worker_class: type, args: tuple[Any, ...]) -> None:
    """A spawned worker process: build the worker, then run the units that arrive until ``None``."""
    try:
        worker = worker_class(*args)
    except Exception as error:
        connection.send(_failure(error))
        return
    try:
        while (unit := connection.recv()) is not None:
            try:
                result = worker(unit, lambda: connection.send(("tick", None)))
            except Exception as error:
                connection.send(_failure(error))
                return
            connection.send(("done", result))
    except EOFError:  # the parent went away
        pass
    finally:
        worker.close()


def start_quietly(process: Any) -> None:
    """Start a process with a silent stdout (PyBullet prints on import and connect) and Ctrl-C ignored
    from its first instruction on (the parent ends it; no traceback per worker)."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    try:
        with quiet_native_stdout():
            process.start()
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)


class ProcessPool:
    """Spawned worker processes on this machine, one pipe each (a killed worker leaves no lock held)."""

    def __init__(self, worker_class: type, args: tuple[Any, ...]) -> None:
        self.context = multiprocessing.get_context("spawn")
        self.worker_class, self.args = worker_class, args
        self.live: dict[int, tuple[Any, Connection]] = {}
        self.count = 0

    def start(self) -> int:
        parent, child = self.context.Pipe()
        process = self.context.Process(target=_serve, args=(child, self.worker_class, self.args), daemon=True)
        start_quietly(process)
        child.close()
        self.count += 1
        self.live[self.count] = (process, parent)
        return self.count

    def submit(self, worker: int, unit: Any) -> None:
        with contextlib.suppress(OSError):  # it died already: wait() reports it
            self.live[worker][1].send(unit)

    def wait(self, timeout: float) -> list[Event]:
        handles = {id(obj): worker for worker, (process, pipe) in self.live.items() for obj in (process.sentinel, pipe)}
        objects = [obj for process, pipe in self.live.values() for obj in (process.sentinel, pipe)]
        events: list[Event] = []
        reported: set[int] = set()
        for ready in wait(objects, timeout):
            worker = handles[id(ready)]
            if worker in reported:
                continue
            reported.add(worker)
            process, pipe = self.live[worker]
            try:
                while pipe.poll():
                    kind, value = pipe.recv()
                    if kind == "bug":
                        kind, value = "error", RuntimeError(f"a worker failed:\n{value}")
                    events.append((worker, kind, value))
                    if kind != "tick":
                        break
                else:
                    if not process.is_alive():
                        events.append((worker, "died", _exit_reason(process)))
            except (EOFError, OSError):
                process.join(CLOSE_S)
                events.append((worker, "died", _exit_reason(process)))
        return events

    def stop(self, worker: int) -> None:
        process, pipe = self.live.pop(worker)
        if process.is_alive():
            process.terminate()
        process.join()
        pipe.close()

    def close(self, graceful: bool) -> None:
        """End every worker: after its ``close()`` when ``graceful``, else terminated at once."""
        if graceful:
            for _, pipe in self.live.values():
                with contextlib.suppress(OSError):
                    pipe.send(None)
            for process, _ in self.live.values():
                process.join(CLOSE_S)
        for worker in list(self.live):
            self.stop(worker)


def _exit_reason(process: Any) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exit code {code}"


# -- command line ----------------------------------------------------------------------------------------
def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """``--backend local|ray`` and ``--address auto|HOST:PORT``."""
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="local",
        help="where workers run: local processes (default) or the actors of a Ray cluster (pip install 'dr-sim[ray]')",
    )
    parser.add_argument(
        "--address",
        default=None,
        metavar="auto|HOST:PORT",
        help="with --backend ray: the cluster of 'ray start' on this machine (auto) or its head's HOST:PORT "
        "(default: start Ray here with --workers CPUs)",
    )


def backend_from_args(args: argparse.Namespace) -> Backend:
    """The ``Backend`` of parsed ``--backend`` and ``--address``."""
    return Backend(args.backend, args.address)
