"""What native code (PyBullet, its plugins) prints on file descriptors 1 and 2: silence it, or capture it.

PyBullet prints its build time on import (on stderr) and its connection options on connect (``argv[0]=``,
on stdout); both would clutter a terminal and corrupt machine-readable output such as
``dr-sim bench --json``. The EGL plugin names its driver on stdout.
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


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what native code prints on file descriptor 2 inside the block (PyBullet's import banner)."""
    with open(os.devnull, "wb") as devnull, _redirected(devnull, 2):
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
def _redirected(target: IO[bytes], fd: int = 1) -> Iterator[None]:
    """File descriptor ``fd`` (1: stdout, 2: stderr) points at ``target`` inside the block (nothing happens
    without a real one)."""
    stream = sys.stdout if fd == 1 else sys.stderr
    stream.flush()
    try:
        saved = os.dup(fd)
    except OSError:  # no real stream (embedded interpreter): nothing to redirect
        yield
        return
    libc = _libc()
    try:
        os.dup2(target.fileno(), fd)
        yield
    finally:
        if libc is not None:
            libc.fflush(None)  # C stdio buffers go to the target, not to the restored stream
        stream.flush()
        os.dup2(saved, fd)
        os.close(saved)


def _libc() -> Any:
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None
