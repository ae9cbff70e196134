"""What ``dr-sim calibrate`` writes: ``calibration.json``, ``report.md`` and one plot per parameter of its prior
against its calibrated range (``plots/<n>_<name>.png``).

A parameter counts as identified when the posterior's standard deviation is below ``IDENTIFIED`` times the
prior's (in search coordinates: relative widths for a log-scaled parameter) and it trades off with no other
parameter: the data pins it down. Otherwise it stays wide (the recordings do not show it, or not enough of
it), or it trades off: its correlation with another parameter in CMA-ES's final search distribution is at
least ``TRADE_OFF`` in magnitude, so the data fits along a line of their combinations (a heavier pusher
with stronger gains), and a narrow marginal says only where on that line the search stopped.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dr_sim.calibration.parameters import Parameter
from dr_sim.extras import require
from dr_sim.file_io import write_atomically

IDENTIFIED = 0.25  # posterior std / prior std (search coordinates) below which a parameter counts as pinned down
TRADE_OFF = 0.7  # |correlation| in the point search's final covariance from which two parameters trade off
PLOTS = "plots"
PURPOSE = "dr-sim calibrate's plots"


def parameter_rows(
    parameters: Sequence[Parameter],
    point: Sequence[float] | None,
    means: Sequence[float],
    stds: Sequence[float],
    ratios: Sequence[float],
    correlation: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """One entry per parameter: its prior, the point estimate, the posterior, its width ratio (``ratios``:
    the posterior's std over the prior's in search coordinates, so a log-scaled parameter's width is
    relative), the parameters it trades off with (``correlation``: the point search's, ``None`` without
    one) and whether it is identified (draw units: the value for op ``set``, the factor for ``scale``, the
    offset for ``add``)."""
    rows = []
    for i, parameter in enumerate(parameters):
        ratio = float(ratios[i])
        partners = (
            []
            if correlation is None
            else [
                other.label
                for j, other in enumerate(parameters)
                if j != i and abs(float(correlation[i, j])) >= TRADE_OFF
            ]
        )
        rows.append(
            {
                "key": parameter.key,
                "label": parameter.label,
                "op": parameter.op,
                "unit": parameter.unit,
                "prior": {
                    "low": parameter.low,
                    "high": parameter.high,
                    "mean": parameter.prior_mean,
                    "std": parameter.prior_std,
                },
                "scale": "log" if parameter.log else "linear",
                "point": None if point is None else parameter.acting(point[i]),
                "posterior": {"mean": float(means[i]), "std": float(stds[i])},
                "width_ratio": ratio,
                "trades_off_with": partners,
                "identified": ratio < IDENTIFIED and not partners,
            }
        )
    return rows


def verdict(row: Mapping[str, Any]) -> str:
    """``yes``, ``no: stays wide`` or ``no: trades off``: the report's word on one parameter row."""
    if row["identified"]:
        return "yes"
    return "no: stays wide" if row["width_ratio"] >= IDENTIFIED else "no: trades off"


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    write_atomically(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
    return path


def write_markdown(path: Path, result: Mapping[str, Any]) -> Path:
    """``report.md``: the table of parameters, identifiability and the discrepancy before and after."""
    rows = result["parameters"]
    lines = [
        "# Calibration report",
        "",
        f"Trajectories: `{result['trajectories']}` ({result['episodes']} episodes, {result['steps']} steps) of "
        f"`{result['env']}`; config: `{result['config']}`; method: {result['method']}; seed {result['seed']}; "
        f"replays: {result.get('replay', 'whole episodes')}; compared: "
        f"{result.get('compared', 'every observation dimension')}.",
        "",
        "| parameter | op | prior box | prior mean ± std | point estimate | calibrated range mean ± std | width ratio "
        "| trades off with | identified |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        prior, posterior = row["prior"], row["posterior"]
        point = "-" if row["point"] is None else f"{row['point']:.4g}"
        unit = f" {row['unit']}" if row["unit"] else ""
        lines.append(
            f"| {row['label']} (`{row['key']}`) | {row['op']} | [{prior['low']:.4g}, {prior['high']:.4g}]{unit} | "
            f"{prior['mean']:.4g} ± {prior['std']:.3g} | {point} | {posterior['mean']:.4g} ± {posterior['std']:.3g} | "
            f"{row['width_ratio']:.3f} | {', '.join(row['trades_off_with']) or '-'} | {verdict(row)} |"
        )
    identified = [row["label"] for row in rows if row["identified"]]
    wide = [row["label"] for row in rows if row["width_ratio"] >= IDENTIFIED]
    traded = [row["label"] for row in rows if row["trades_off_with"] and row["width_ratio"] < IDENTIFIED]
    discrepancy = result["discrepancy"]
    lines += [
        "",
        f"Identified (posterior std below {IDENTIFIED:g} of the prior's): {', '.join(identified) or 'none'}.",
        f"Left wide by the data: {', '.join(wide) or 'none'}.",
        f"Narrow but trading off with another parameter (|correlation| >= {TRADE_OFF:g} in the point search's "
        f"final covariance): {', '.join(traded) or 'none'}.",
        "",
        "Discrepancy (mean Huber loss of the residuals in units of each dimension's spread; lower is better):",
        "",
        "| parameters | discrepancy |",
        "|---|---|",
        *[f"| {name.replace('_', ' ')} | {value:.5g} |" for name, value in discrepancy.items()],
        "",
        f"Replays: {result['replays']} in {result['seconds']:.1f} s. "
        f"Calibrated config: `{result['written']['config']}`.",
        "",
        *[f"![{row['label']}]({plot})" for row, plot in zip(rows, result["written"]["plots"], strict=True)],
        "",
    ]
    write_atomically(path, "\n".join(lines).encode())
    return path


def plot_name(index: int, parameter: Parameter) -> str:
    """``plots/00_mass_of_object.png``."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", parameter.label).strip("_")
    return f"{PLOTS}/{index:02d}_{slug}.png"


def draw_parameter(
    axes: Any,
    parameter: Parameter,
    prior: np.ndarray,
    calibrated: np.ndarray,
    point: float | None = None,
    truth: float | None = None,
) -> None:
    """On matplotlib ``axes``: histograms of a parameter's prior draws and its training range's (the
    calibrated config's) over the prior's box (log-spaced bins for a log-scaled parameter), the point
    estimate (dashed) and, where known, the true value (solid) marked."""
    space = np.geomspace if parameter.log else np.linspace
    bins = space(parameter.low, parameter.high, 81)
    axes.hist(prior, bins=bins, density=True, alpha=0.4, label="prior")
    axes.hist(calibrated, bins=bins, density=True, histtype="step", color="C3", label="calibrated range")
    if parameter.log:
        axes.set_xscale("log")
    if point is not None:
        axes.axvline(point, color="k", linestyle="--", linewidth=1, label="point estimate")
    if truth is not None:
        axes.axvline(truth, color="C2", linewidth=1.5, label="truth")
    unit = f" ({parameter.unit})" if parameter.unit else ""
    axes.set_xlabel(f"{parameter.label}{unit}")


def write_plots(
    root: Path,
    parameters: Sequence[Parameter],
    rows: Sequence[Mapping[str, Any]],
    prior_draws: Sequence[np.ndarray],
    range_draws: Sequence[np.ndarray],
) -> list[str]:
    """One PNG per parameter (``draw_parameter``: its prior against its training range, the point
    estimate marked); returns the paths relative to ``root``."""
    require("matplotlib", PURPOSE).use("Agg")
    pyplot = require("matplotlib.pyplot", PURPOSE)
    names = []
    for i, (parameter, row, prior, calibrated) in enumerate(
        zip(parameters, rows, prior_draws, range_draws, strict=True)
    ):
        figure, axes = pyplot.subplots(figsize=(5.0, 3.2))
        draw_parameter(axes, parameter, prior, calibrated, row["point"])
        axes.set_ylabel("density")
        axes.set_title(f"{parameter.key}: width ratio {row['width_ratio']:.3f}", fontsize=9)
        axes.legend(fontsize=8)
        figure.tight_layout()
        name = plot_name(i, parameter)
        path = root / name
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        write_atomically(path, buffer.getvalue())
        pyplot.close(figure)
        names.append(name)
    return names
