"""The files every run folder of ``dr-sim train`` and ``dr-sim adapt train`` starts with: the resolved
config (``config.yaml``), the code's git state (``git.txt``) and the command line (``command.txt``)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

CONFIG_FILE = "config.yaml"
GIT_FILE = "git.txt"
COMMAND_FILE = "command.txt"
GIT_TIMEOUT_S = 30


def git_state(where: Path | None = None) -> str:
    """``<commit hash>`` and ``dirty``/``clean`` of the repository holding ``where`` (default: this code);
    ``unknown`` outside one (or without git)."""
    where = where or Path(__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=where, capture_output=True, text=True, check=True, timeout=GIT_TIMEOUT_S
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit} {'dirty' if dirty else 'clean'}"


def write_run_files(resolved: dict[str, Any], run: Path) -> None:
    """A run folder's ``config.yaml`` (the resolved config), ``git.txt`` and ``command.txt``; the folder
    is created if missing."""
    run.mkdir(parents=True, exist_ok=True)
    (run / CONFIG_FILE).write_text(yaml.safe_dump(resolved, sort_keys=False))
    (run / GIT_FILE).write_text(git_state() + "\n")
    (run / COMMAND_FILE).write_text(" ".join(shlex.quote(arg) for arg in sys.argv) + "\n")
