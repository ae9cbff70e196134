"""Warnings that point at the user's line, not at the line inside dr_sim (or Gymnasium) that raised them.

``warn(message)`` walks up the call stack past every frame of dr_sim itself (its package, and the
``envs`` and ``policies`` folders of a checkout) and of Gymnasium (``gymnasium.make`` and its wrappers
stand between a user and a task), and files the warning at the first frame beyond them: the line that
made the env or reset it. Python's warning filters then work per user line, as usual.

A warning is said once per run, not once per process: the worker processes of a ``SubprocVecEnv``,
an ``AsyncVectorEnv`` or a worker pool each build their own env and would each repeat it. A process
started by ``multiprocessing`` keeps quiet about a message that its run (the first process, the one
the user started) or a sibling worker has said already: the first to say it leaves a mark, a file
created exclusively (atomic across processes) in a folder named after the run's process id, which the
run removes when it exits. The run itself always warns through Python's filters, so ``pytest.warns``
and ``-W error`` see every warning there.
"""

from __future__ import annotations

import atexit
import hashlib
import multiprocessing
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_OWN = (_PACKAGE, _PACKAGE.parent / "envs", _PACKAGE.parent / "policies")  # the last two: in a checkout
#: The environment variable that hands the run's process id down to its worker processes.
RUN_VARIABLE = "DR_SIM_WARNING_RUN"


def _started_by_multiprocessing() -> bool:
    """Whether ``multiprocessing`` started this process: a forked or spawned worker, or the fork
    server that forks the workers of ``SubprocVecEnv`` (it imports the user's main module first)."""
    return multiprocessing.parent_process() is not None or "multiprocessing.forkserver" in sys.modules


def _start_run() -> str:
    """The process id of this process's run: its own, unless ``multiprocessing`` started it (then the
    one its starter handed down)."""
    inherited = os.environ.get(RUN_VARIABLE)
    if inherited and _started_by_multiprocessing():
        return inherited
    run = str(os.getpid())
    os.environ[RUN_VARIABLE] = run
    return run


_RUN = _start_run()
_MARKS = Path(tempfile.gettempdir()) / f"dr_sim-warnings-{_RUN}"


def _remove_marks() -> None:
    shutil.rmtree(_MARKS, ignore_errors=True)


def _in_worker() -> bool:
    """Whether this process is a worker of its run rather than the run itself."""
    return str(os.getpid()) != _RUN


if not _in_worker():
    atexit.register(_remove_marks)


def _first_in_run(message: str, category: type[Warning]) -> bool:
    """Leave this message's mark for the run; whether no process of the run had left it before."""
    key = hashlib.sha256(f"{category.__qualname__}:{message}".encode()).hexdigest()[:32]
    try:
        _MARKS.mkdir(exist_ok=True)
        os.close(os.open(_MARKS / key, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    except OSError:  # no writable temporary folder: say it, as every process would without the marks
        return True
    return True


def _internal(filename: str) -> bool:
    if filename.startswith("<"):  # <frozen importlib._bootstrap> and the like
        return True
    path = Path(filename).resolve()
    roots = [*_OWN]
    gymnasium = sys.modules.get("gymnasium")
    if gymnasium is not None and getattr(gymnasium, "__file__", None):
        roots.append(Path(gymnasium.__file__).resolve().parent)
    return any(path.is_relative_to(root) for root in roots)


def warn(message: str, category: type[Warning] = RuntimeWarning) -> None:
    """``warnings.warn(message, category)`` filed at the first caller outside dr_sim and Gymnasium; a
    worker process says it only if no other process of its run has (see the module's docstring)."""
    first = _first_in_run(message, category)
    if not first and _in_worker():
        return
    frame = sys._getframe(1)
    while frame is not None and _internal(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:  # called from dr_sim's own entry points only
        warnings.warn(message, category, stacklevel=2)
        return
    warnings.warn_explicit(
        message,
        category,
        frame.f_code.co_filename,
        frame.f_lineno,
        module=frame.f_globals.get("__name__", "<unknown>"),
        registry=frame.f_globals.setdefault("__warningregistry__", {}),
        module_globals=frame.f_globals,
    )
