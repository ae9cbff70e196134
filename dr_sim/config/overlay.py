"""Lay one config mapping over another: how study arms and variants are written as changes of a base."""

from __future__ import annotations

import copy
from typing import Any


def overlay(base: Any, patch: Any) -> Any:
    """``base`` with ``patch`` merged in: mappings key by key (a ``None`` value deletes the key), any
    other value replaces: lists, and randomized parameters (mappings with a ``type``) as a whole.

    >>> overlay({"camera": {"eye": 1, "aim": 2}, "image": {"noise": 3}}, {"camera": {"aim": None}, "image": 4})
    {'camera': {'eye': 1}, 'image': 4}
    """
    if not isinstance(base, dict) or not isinstance(patch, dict) or "type" in patch:
        return copy.deepcopy(patch)
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = overlay(merged.get(key), value)
    return merged
