"""Gymnasium spaces as plain JSON, and the check that recorded data fits them.

A trajectory set names the spaces it was recorded in (``describe_space``), so that a reader can tell data
of another env from a malformed file: ``check_same_space`` compares a description with an env's space, and
``check_values`` checks an array of steps against one. Supported: ``Box`` (any shape and dtype),
``Discrete`` and ``Dict`` of those. Box bounds are kept where finite (``None`` stands for an infinite one).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from dr_sim.errors import ConfigError

SUPPORTED = "Box, Discrete, or a Dict of those"


def describe_space(space: spaces.Space[Any], where: str = "space") -> dict[str, Any]:
    """A JSON-serialisable description of ``space``: ``{"type": "Box", "shape", "dtype", "low", "high"}``,
    ``{"type": "Discrete", "n", "start"}`` or ``{"type": "Dict", "spaces": {key: ...}}``."""
    if isinstance(space, spaces.Box):
        return {
            "type": "Box",
            "shape": list(space.shape),
            "dtype": np.dtype(space.dtype).name,
            "low": _bounds(space.low),
            "high": _bounds(space.high),
        }
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Dict):
        return {"type": "Dict", "spaces": {key: describe_space(sub, f"{where}[{key!r}]") for key, sub in space.items()}}
    raise ConfigError(f"{where}: {type(space).__name__} spaces cannot be recorded; supported: {SUPPORTED}")


def _bounds(values: np.ndarray) -> list[Any]:
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    return [float(v) if np.isfinite(v) else None for v in flat]


def leaves(description: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """The non-Dict parts of a description by key (``""`` for a plain space, ``"observation"`` for a Dict's
    entry, ``"a.b"`` for a nested one)."""
    if description.get("type") != "Dict":
        return {prefix: description}
    found: dict[str, dict[str, Any]] = {}
    for key, sub in description["spaces"].items():
        found.update(leaves(sub, f"{prefix}.{key}" if prefix else str(key)))
    return found


def check_same_space(recorded: dict[str, Any], space: spaces.Space[Any], what: str, origin: str) -> None:
    """One ``ConfigError`` naming ``origin`` when the recorded description differs from ``space``'s in
    type, keys, shape or dtype (another env's data)."""
    actual = describe_space(space, what)
    if _signature(recorded) != _signature(actual):
        raise ConfigError(
            f"{origin}: recorded with {what} {_show(recorded)}, but the env has {_show(actual)}: these are "
            "another env's trajectories (record them on this env, or calibrate on the env they came from)"
        )


def _signature(description: dict[str, Any]) -> Any:
    kind = description.get("type")
    if kind == "Dict":
        return ("Dict", tuple((key, _signature(sub)) for key, sub in sorted(description["spaces"].items())))
    if kind == "Box":
        return ("Box", tuple(description["shape"]), description["dtype"])
    return (kind, description.get("n"), description.get("start"))


def _show(description: dict[str, Any]) -> str:
    kind = description.get("type")
    if kind == "Dict":
        return "Dict(" + ", ".join(f"{key}: {_show(sub)}" for key, sub in description["spaces"].items()) + ")"
    if kind == "Box":
        return f"Box{tuple(description['shape'])} {description['dtype']}"
    return f"{kind}({description.get('n')})"


def check_values(values: np.ndarray, description: dict[str, Any], steps: int, name: str, origin: str) -> None:
    """One ``ConfigError`` naming ``origin`` and the array ``name`` unless ``values`` holds ``steps`` items of
    the (non-Dict) space ``description``: its shape, a dtype of the same kind, finite numbers."""
    kind = description["type"]
    shape = (steps, *description["shape"]) if kind == "Box" else (steps,)
    if values.shape != shape:
        raise ConfigError(
            f"{origin}: {name} has shape {values.shape}, expected {shape} ({steps} steps of the recorded "
            f"{_show(description)})"
        )
    if kind == "Box":
        expected = np.dtype(description["dtype"])
        if values.dtype.kind not in ("f", "i", "u") or (expected.kind == "f") != (values.dtype.kind == "f"):
            raise ConfigError(
                f"{origin}: {name} has dtype {values.dtype}, expected {expected} (numbers of the recorded space)"
            )
        if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
            raise ConfigError(f"{origin}: {name} holds NaN or infinite values; every recorded value must be finite")
    elif values.dtype.kind not in ("i", "u"):
        raise ConfigError(f"{origin}: {name} has dtype {values.dtype}, expected integers (a Discrete space)")
