"""A picture of ADR's ranges over training: one panel per dimension, and the entropy."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dr_sim.adr.config import AdrConfig
from dr_sim.extras import require


def plot_ranges(history: Sequence[Mapping[str, Any]], config: AdrConfig, path: Path, total_steps: int) -> Path:
    """PNG of each dimension's [low, high] (shaded, its own unit) against env steps, with the nominal value
    (dotted) and the hard limits (dashed), plus a panel of the entropy (nats per dimension).

    ``history``: ``adr_history.json``'s entries; ``total_steps``: where the x axis ends (the run's length)."""
    require("matplotlib", "the ADR plot").use("Agg")
    plt = require("matplotlib.pyplot", "the ADR plot")

    steps = [entry["steps"] for entry in history] + [total_steps]
    panels = len(config.dimensions) + 1
    columns = min(panels, 4)
    rows = math.ceil(panels / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.3 * columns, 2.5 * rows), dpi=100, squeeze=False)
    flat = list(axes.flat)
    for axis, (name, dimension) in zip(flat, config.dimensions.items(), strict=False):
        low = [entry["bounds"][name][0] for entry in history] + [history[-1]["bounds"][name][0]]
        high = [entry["bounds"][name][1] for entry in history] + [history[-1]["bounds"][name][1]]
        axis.fill_between(steps, low, high, step="post", alpha=0.4, label="ADR range")
        for limit in dimension.limits:
            axis.axhline(limit, color="0.3", ls="--", lw=0.8)
        axis.axhline(dimension.nominal, color="0.3", ls=":", lw=0.8)
        axis.set_title(f"{name} ({dimension.op})", fontsize=9)
    entropy = [entry["entropy"] for entry in history] + [history[-1]["entropy"]]
    flat[len(config.dimensions)].step(steps, entropy, where="post", color="tab:red")
    flat[len(config.dimensions)].set_title("entropy (nats per dimension)", fontsize=9)
    for axis in flat[:panels]:
        axis.set_xlabel("env steps", fontsize=8)
        axis.tick_params(labelsize=7)
    for axis in flat[panels:]:
        axis.set_axis_off()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
