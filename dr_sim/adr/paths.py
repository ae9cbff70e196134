"""Where an ADR dimension lives in a randomization config: a dotted key path.

``actuation.gain_scale`` names a key of a section; ``physics.links[object/*].mass`` names the ``mass``
of the ``physics.links`` entry whose ``select`` is ``object/*`` (an entry that does not exist yet is
appended, so an ADR dimension can randomize what the base config leaves nominal; an existing entry with
that selector gets the key, replacing what the base config had there).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from dr_sim.errors import ConfigError

_SEGMENT = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*)(\[(?P<select>[^\[\]]+)\])?$")


@dataclass(frozen=True)
class Segment:
    """One step of a path: a mapping key, and for a list of selector entries the entry's ``select``."""

    key: str
    select: str | None = None


def parse_path(path: str) -> tuple[Segment, ...]:
    """The segments of ``path``; one ``ConfigError`` naming the bad part and the expected form."""
    parts = path.split(".") if isinstance(path, str) else []
    segments = []
    for part in parts:
        match = _SEGMENT.match(part.strip())
        if match is None:
            break
        segments.append(Segment(match["key"], match["select"].strip() if match["select"] else None))
    if not parts or len(segments) != len(parts) or segments[-1].select is not None:
        raise ConfigError(
            f"path {path!r} is not a config key path: write keys joined by dots, a list entry by its selector "
            "in brackets, ending in a key (for example 'actuation.gain_scale' or 'physics.links[object/*].mass')"
        )
    return tuple(segments)


def set_param(config: dict[str, Any] | None, path: str, param: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` (``None``: an empty config) with ``param`` at ``path``; ``config`` is left as is."""
    result = copy.deepcopy(config) if config else {}
    *steps, last = parse_path(path)
    node = result
    for segment in steps:
        child = node.get(segment.key)
        if child is None:
            child = node[segment.key] = [] if segment.select is not None else {}
        if segment.select is not None:
            if not isinstance(child, list):
                raise ConfigError(f"path {path!r}: {segment.key!r} is not a list of selector entries")
            entry = next(
                (item for item in child if isinstance(item, dict) and item.get("select") == segment.select), None
            )
            if entry is None:
                entry = {"select": segment.select}
                child.append(entry)
            child = entry
        if not isinstance(child, dict):
            raise ConfigError(f"path {path!r}: {segment.key!r} holds {child!r}, not a mapping of keys")
        node = child
    node[last.key] = param
    return result
