"""Which pip extra of dr-sim installs each heavy optional dependency, and ``require`` to import one.

The core of dr_sim (the randomization engine, the tasks, the data generator) needs none of these. A
module that is itself built on one (the pose network on torch, the RL training on stable-baselines3)
imports it at its top; a light module that needs one only in some function calls ``require`` there,
so that a missing package ends in one line naming the extra, for example
``dr-sim preview needs matplotlib: pip install 'dr-sim[train]'``.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType

from dr_sim.errors import MissingExtraError

DISTRIBUTION = "dr-sim"


@dataclass(frozen=True)
class Extra:
    """Where a heavy dependency comes from: its pip distribution name and the extra of dr-sim holding it."""

    distribution: str
    extra: str


#: Top-level module name -> the extra of dr-sim that installs it (pyproject.toml's optional-dependencies).
EXTRAS: dict[str, Extra] = {
    "torch": Extra("torch", "train"),
    "stable_baselines3": Extra("stable-baselines3", "train"),
    "sb3_contrib": Extra("sb3-contrib", "train"),
    "tensorboard": Extra("tensorboard", "train"),
    "matplotlib": Extra("matplotlib", "train"),
    "skimage": Extra("scikit-image", "train"),
    "ray": Extra("ray", "ray"),
    "pycocotools": Extra("pycocotools", "train"),
    "cma": Extra("cma", "calibrate"),
}


def install_line(module_name: str) -> str:
    """The command that installs ``module_name`` (a key of ``EXTRAS``, or a submodule of one):
    ``pip install 'dr-sim[train]'``."""
    return f"pip install '{DISTRIBUTION}[{EXTRAS[module_name.split('.')[0]].extra}]'"


def available(module_name: str) -> bool:
    """Whether ``module_name`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module_name) is not None
    except (ImportError, ValueError):
        return False


def missing_message(module_name: str, purpose: str) -> str:
    """``<purpose> needs <module> (<distribution>): pip install 'dr-sim[<extra>]'``, one line."""
    root = module_name.split(".")[0]
    distribution = EXTRAS[root].distribution
    named = root if distribution == root else f"{root} ({distribution})"
    return f"{purpose} needs {named}: {install_line(root)}"


def require(module_name: str, purpose: str) -> ModuleType:
    """Import ``module_name`` (a heavy optional dependency of ``EXTRAS``, or a submodule of one) and
    return it.

    Args:
        module_name: for example ``torch`` or ``matplotlib.pyplot``.
        purpose: what needs it, the subject of the error message (``dr-sim preview``).

    Raises:
        MissingExtraError: it (or another heavy dependency it imports) is not installed; the one-line
            message names the module and the ``pip install`` line of its extra.
    """
    if module_name.split(".")[0] not in EXTRAS:
        raise ValueError(f"{module_name!r} is not a heavy optional dependency of dr_sim.extras.EXTRAS")
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        missing = (error.name or "").split(".")[0]
        if missing not in EXTRAS:
            raise  # a broken installation of something else: the original error says more
        raise MissingExtraError(missing_message(missing, purpose)) from None
