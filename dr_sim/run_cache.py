"""A run cache keyed by a hash of what a result depends on (used by studies and policy suites), and how two
sets of settings differ (``differing_keys``, ``describe_difference``: what a refusal to overwrite names).

``RunCache(root).run(name, settings, compute)`` keeps each result in ``root/<name>-<hash>/``, where
``hash`` is the SHA-256 (first 12 hex digits) of the settings as canonical JSON. A rerun with the same
settings reads ``result.json`` back; a changed setting gets another folder, so it is computed afresh
and never mistaken for a finished result. A folder whose ``result.json`` is missing (an interrupted
run) is handed to ``compute`` again, which resumes what it can (a data set shard by shard).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dr_sim.file_io import write_atomically

RESULT_FILE = "result.json"
SETTINGS_FILE = "settings.json"


def canonical_json(settings: Any) -> str:
    """``settings`` as JSON with sorted keys and no whitespace: equal settings give equal text."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)


def settings_hash(settings: Any) -> str:
    """The first 12 hex digits of the SHA-256 of ``canonical_json(settings)``."""
    return hashlib.sha256(canonical_json(settings).encode()).hexdigest()[:12]


class RunCache:
    """Results of named computations in ``root``, one folder per (name, settings hash)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def folder(self, name: str, settings: Mapping[str, Any]) -> Path:
        """The folder of ``name`` computed with ``settings`` (characters other than letters, digits and
        ``._+-`` in the name become ``_``, so every name is one folder)."""
        return self.root / f"{re.sub(r'[^A-Za-z0-9._+-]+', '_', name)}-{settings_hash(settings)}"

    def cached(self, name: str, settings: Mapping[str, Any]) -> dict[str, Any] | None:
        """The stored result of ``name`` with these settings, or ``None`` when it was never finished."""
        path = self.folder(name, settings) / RESULT_FILE
        return json.loads(path.read_text()) if path.is_file() else None

    def run(
        self, name: str, settings: Mapping[str, Any], compute: Callable[[Path], dict[str, Any]]
    ) -> tuple[dict[str, Any], bool]:
        """(result, whether it was computed now): the stored result, or ``compute(folder)`` stored."""
        found = self.cached(name, settings)
        if found is not None:
            return found, False
        folder = self.folder(name, settings)
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(folder / SETTINGS_FILE, (json.dumps(settings, indent=1, default=str) + "\n").encode())
        result = compute(folder)
        write_atomically(folder / RESULT_FILE, (json.dumps(result, indent=1) + "\n").encode())
        return result, True


def differing_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys where two JSON values differ (``config.seed``, ``config.randomization.camera``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            keys += differing_keys(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else str(key))
        return keys
    return [] if old == new else [prefix or "(root)"]


def describe_difference(key: str, old: dict[str, Any], new: dict[str, Any]) -> str:
    """``key: <old value> there, <new value> asked`` of a dotted key of ``differing_keys`` (the key alone
    when either value is a mapping or a list)."""

    def get(data: Any) -> Any:
        for part in key.split("."):
            data = data.get(part) if isinstance(data, dict) else None
        return data

    before, after = get(old), get(new)
    if isinstance(before, dict | list) or isinstance(after, dict | list):
        return key
    return f"{key}: {before!r} there, {after!r} asked"
