"""Dotted overrides of a config mapping (``--set KEY=VALUE``), shared by ``dr-sim train`` and the studies.

``apply_setting(data, "training.epochs=2")`` sets ``data["training"]["epochs"] = 2``: the key is a dotted
path of mapping keys (missing mappings are created), the value is parsed as YAML (``[1, 2]``, ``null``,
``true``, ``3e-4``). The caller validates the result as usual, so a misspelt key is the config's own
"unknown key ... did you mean" error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from dr_sim.config.loader import read_yaml_mapping
from dr_sim.errors import ConfigError


def apply_setting(data: dict[str, Any], assignment: str) -> dict[str, Any]:
    """``data`` (changed in place and returned) with ``KEY=VALUE`` applied: ``KEY`` a dotted path of
    mapping keys (missing mappings are created), ``VALUE`` parsed as YAML."""
    key, sep, text = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects KEY=VALUE (e.g. training.epochs=2), got {assignment!r}")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {key}: {text!r} is not a YAML value ({error.__class__.__name__})") from None
    parts = key.strip().split(".")
    node = data
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise ConfigError(f"--set {key}: {where!r} holds a {type(child).__name__}, not a mapping of keys")
        node = child
    node[parts[-1]] = value
    return data


def read_with_overrides(path: str | Path, assignments: Sequence[str], what: str = "config") -> dict[str, Any]:
    """The YAML mapping at ``path`` with each ``KEY=VALUE`` of ``assignments`` applied in order."""
    data = read_yaml_mapping(path, what)
    for assignment in assignments:
        apply_setting(data, assignment)
    return data
