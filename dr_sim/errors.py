"""Exceptions that end in one clear message for the user."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DrSimError(Exception):
    """Base class of every error dr_sim raises on purpose."""


class ConfigError(DrSimError, ValueError):
    """A randomization or experiment config is invalid.

    The message names the key path, the offending value and what is allowed.
    """


class SceneError(DrSimError, LookupError):
    """A body, link, joint or PyBullet client could not be found."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


class MissingExtraError(DrSimError, ImportError):
    """An optional dependency is not installed; the message names the pip extra of dr-sim that installs it
    (``dr_sim.extras.require``)."""
