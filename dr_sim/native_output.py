"""What native code (PyBullet, its plugins) prints on file descriptor 1: silence it, or capture it.

PyBullet prints its build time on import and panda-gym's connection options on connect; both would
corrupt machine-readable output such as ``dr-sim bench --json``. The EGL plugin names its driver there.
"""

from __future__ import annotations

import ctypes
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any


@contextmanager
def quiet_native_stdout() -> Iterator[None]:
    """Silence what native code prints on file descriptor 1 inside the block."""
    with open(os.devnull, "wb") as devnull, _redirected(devnull):
        yield


class Printed:
    """What native code printed inside ``captured_native_stdout`` (``text`` is filled after the block)."""

    def __init__(self) -> None:
        self.text = ""


@contextmanager
def captured_native_stdout() -> Iterator[Printed]:
    """Capture what native code prints on file descriptor 1 inside the block into ``Printed.text``."""
    printed = Printed()
    with tempfile.TemporaryFile() as capture:
        with _redirected(capture):
            yield printed
        capture.seek(0)
        printed.text = capture.read().decode(errors="replace")


@contextmanager
def _redirected(target: IO[bytes]) -> Iterator[None]:
    """File descriptor 1 points at ``target`` inside the block (nothing happens without a real stdout)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (embedded interpreter): nothing to redirect
        yield
        return
    libc = _libc()
    try:
        os.dup2(target.fileno(), 1)
        yield
    finally:
        if libc is not None:
            libc.fflush(None)  # C stdio buffers go to the target, not to the restored stdout
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _libc() -> Any:
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None
