"""Warnings that point at the user's line, not at the line inside dr_sim (or Gymnasium) that raised them.

``warn(message)`` walks up the call stack past every frame of dr_sim itself (its package, and the
``envs`` and ``policies`` folders of a checkout) and of Gymnasium (``gymnasium.make`` and its wrappers
stand between a user and a task), and files the warning at the first frame beyond them: the line that
made the env or reset it. Python's warning filters then work per user line, as usual.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_OWN = (_PACKAGE, _PACKAGE.parent / "envs", _PACKAGE.parent / "policies")  # the last two: in a checkout


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
    """``warnings.warn(message, category)`` filed at the first caller outside dr_sim and Gymnasium."""
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
