"""OpenAI et al. 2019's Algorithm 1: performance buffers at the bounds move the bounds.

Every bound has a buffer. An episode pinned at a bound (``dr_sim.adr.ranges``) reports its performance
(success: 1 or 0); a report for a value the bound no longer has (the bound moved while the episode ran)
is dropped. Once a buffer holds ``buffer_size`` (m) results, their mean p is taken and the buffer
cleared: p >= ``high_threshold`` (t_H) widens the bound by ``step`` (Delta) away from the nominal value,
up to its hard limit; p <= ``low_threshold`` (t_L) shrinks it by Delta towards the nominal value, never
past it; anything between keeps it.

The whole state (bounds and partly filled buffers) is a plain dict (``state_dict``), saved as JSON; a
controller that loads it makes the same next decisions as the one that saved it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dr_sim.adr.config import BOUNDS, AdrConfig
from dr_sim.adr.ranges import Ranges
from dr_sim.errors import ConfigError

WIDEN, SHRINK, KEEP = "widen", "shrink", "keep"


@dataclass(frozen=True)
class Decision:
    """What a full buffer decided: the bound, its buffer's mean performance, the change and the new value."""

    dimension: str
    bound: str
    performance: float
    change: str
    value: float


class AdrController:
    """The ranges of ``config`` (starting at nominal) and a performance buffer per bound."""

    def __init__(self, config: AdrConfig) -> None:
        self.config = config
        self.ranges = Ranges(config)
        self.buffers: dict[str, dict[str, list[float]]] = {name: {b: [] for b in BOUNDS} for name in config.dimensions}

    def record(self, dimension: str, bound: str, value: float, performance: float) -> Decision | None:
        """Add one pinned episode's performance; the decision when it filled its buffer, else ``None``."""
        if dimension not in self.buffers or bound not in BOUNDS:
            raise ConfigError(f"ADR result for unknown bound {dimension!r}/{bound!r}")
        if value != self.ranges.value(dimension, bound):
            return None  # the bound moved while the episode ran
        buffer = self.buffers[dimension][bound]
        buffer.append(float(performance))
        if len(buffer) < self.config.buffer_size:
            return None
        mean = float(np.mean(buffer))
        buffer.clear()
        spec = self.config.dimensions[dimension]
        change = WIDEN if mean >= self.config.high_threshold else SHRINK if mean <= self.config.low_threshold else KEEP
        if change == WIDEN:
            moved = max(value - spec.step, spec.limits[0]) if bound == "low" else min(value + spec.step, spec.limits[1])
        elif change == SHRINK:
            moved = min(value + spec.step, spec.nominal) if bound == "low" else max(value - spec.step, spec.nominal)
        else:
            moved = value
        self.ranges.bounds[dimension][BOUNDS.index(bound)] = moved
        return Decision(dimension, bound, mean, change, self.ranges.value(dimension, bound))

    def entropy(self) -> float:
        """The current ranges' entropy in nats per dimension."""
        return self.ranges.entropy()

    # -- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Bounds and buffers as plain data (JSON-serialisable)."""
        return {
            "bounds": self.ranges.as_dict(),
            "buffers": {
                name: {b: list(values) for b, values in buffers.items()} for name, buffers in self.buffers.items()
            },
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take the bounds and buffers of ``state_dict()``; one ``ConfigError`` when they do not fit the config."""
        try:
            bounds, buffers = state["bounds"], state["buffers"]
            loaded = {
                name: {b: [float(v) for v in buffers[name][b]] for b in BOUNDS} for name in self.config.dimensions
            }
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(
                f"ADR state does not fit the dimensions {sorted(self.config.dimensions)}: {error!r}"
            ) from None
        self.ranges.update(bounds)
        self.buffers = loaded

    def save(self, path: str | Path) -> Path:
        """Write ``state_dict()`` as JSON to ``path`` (through a temporary file, so no half-written state)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(self.state_dict(), indent=1) + "\n")
        partial.replace(path)
        return path

    def load(self, path: str | Path) -> None:
        """Load a state written by ``save``."""
        try:
            state = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ConfigError(f"cannot read the ADR state {str(path)!r}: {error}") from None
        self.load_state_dict(state)
