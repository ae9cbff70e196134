"""The report of a gap measurement: ``report.md``, ``gap.json``, ``histograms.png`` and ``telling.png``.

- ``gap.json``: the result object that ``--json`` prints (see ``dr_sim.gap.cli.measure_gap``);
- ``histograms.png``: per-channel pixel histograms and the per-image brightness, contrast and
  sharpness distributions of A and B, overlaid;
- ``telling.png``: the held-out images the classifier finds most telling, the ones it classifies
  right with the highest confidence: ``TELLING`` of A in the top row, ``TELLING`` of B in the bottom
  row (empty cells stay black), each tile at least ``MIN_TILE`` px;
- ``report.md``: the figures with their intervals, the statistics table and both images.

Every file is written atomically (``dr_sim.file_io.write_atomically``).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from dr_sim.extras import require
from dr_sim.file_io import encode_png, make_contact_sheet, write_atomically
from dr_sim.gap.stats import CHANNELS, FIGURES, LEVELS, SetStats

TELLING = 8  # images per side in the montage
MIN_TILE = 64  # px: smaller images are enlarged (nearest neighbour) in the montage
FILES = {"report": "report.md", "json": "gap.json", "histograms": "histograms.png", "telling": "telling.png"}
UNITS = {"brightness": "levels", "contrast": "levels", "sharpness": "levels²"}


def telling_sheet(images_a: np.ndarray, images_b: np.ndarray, index_a: np.ndarray, index_b: np.ndarray) -> np.ndarray:
    """A two-row contact sheet: the images of A at ``index_a``, then those of B at ``index_b``."""
    size = images_a.shape[1]
    blank = np.zeros_like(images_a[0])
    row_a = [images_a[i] for i in index_a[:TELLING]]
    row_b = [images_b[i] for i in index_b[:TELLING]]
    tiles = row_a + [blank] * (TELLING - len(row_a)) + row_b + [blank] * (TELLING - len(row_b))
    scale = max(1, -(-MIN_TILE // size))
    tiles = [tile.repeat(scale, axis=0).repeat(scale, axis=1) for tile in tiles]
    return make_contact_sheet(tiles, TELLING)


def histograms_png(a: SetStats, b: SetStats) -> bytes:
    """PNG bytes: a 2 x 3 grid of A's and B's channel histograms (top) and figure distributions."""
    backend_agg = require("matplotlib.backends.backend_agg", "dr-sim gap")
    figure = require("matplotlib.figure", "dr-sim gap").Figure(figsize=(10.5, 5.5), dpi=80, layout="constrained")
    backend_agg.FigureCanvasAgg(figure)
    edges = np.linspace(0, LEVELS, a.histograms.shape[1] + 1)
    for c, channel in enumerate(CHANNELS):
        axis = figure.add_subplot(2, 3, c + 1)
        for stats, name, color in ((a, "A", "tab:blue"), (b, "B", "tab:orange")):
            axis.stairs(stats.histograms[c], edges, label=name, color=color, linewidth=1.5)
        axis.set_title(f"{channel} channel", fontsize=9)
        axis.set_xlabel("level", fontsize=8)
        axis.set_ylabel("fraction of pixels", fontsize=8)
        axis.legend(fontsize=7)
    for k, name in enumerate(FIGURES):
        axis = figure.add_subplot(2, 3, 4 + k)
        values_a, values_b = getattr(a, name), getattr(b, name)
        joint = np.concatenate([values_a, values_b])
        bins = np.linspace(joint.min(), joint.max() + 1e-9, 31).tolist()
        axis.hist(values_a, bins=bins, alpha=0.55, label="A", color="tab:blue")
        axis.hist(values_b, bins=bins, alpha=0.55, label="B", color="tab:orange")
        axis.set_title(f"{name} per image", fontsize=9)
        axis.set_xlabel(UNITS[name], fontsize=8)
        axis.set_ylabel("images", fontsize=8)
        axis.legend(fontsize=7)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _interval(value: float, ci: list[float], digits: int = 3) -> str:
    return f"{value:.{digits}f} (95% CI {ci[0]:.{digits}f} to {ci[1]:.{digits}f})"


def verdict(result: dict[str, Any]) -> str:
    """One sentence on what the AUC interval says."""
    low, high = result["auc_ci"]
    if low <= 0.5 <= high:
        return "the classifier cannot tell A from B: the AUC interval contains 0.5"
    if low > 0.5:
        return "the classifier tells A from B: the AUC interval lies above 0.5"
    return "the AUC interval lies below 0.5: the classifier learnt noise of the train halves (more images help)"


def markdown(result: dict[str, Any]) -> str:
    """The text of ``report.md``."""
    stats, difference = result["stats"], result["stats"]["difference"]
    lines = [
        "# Domain gap",
        "",
        "| | source | kind | images used (held out) |",
        "|---|---|---|---|",
        f"| A | `{result['a']['source']}` | {result['a']['kind']} | {result['n_a']} ({result['n_test_a']}) |",
        f"| B | `{result['b']['source']}` | {result['b']['kind']} | {result['n_b']} ({result['n_test_b']}) |",
        "",
        f"Images at {result['size']} x {result['size']} px, seed {result['seed']}, {result['epochs']} epochs.",
        "",
        "## Classifier two-sample test",
        "",
        f"- ROC AUC (B against A): **{_interval(result['auc'], result['auc_ci'])}**",
        f"- accuracy: {_interval(result['accuracy'], result['accuracy_ci'])}",
        f"- {verdict(result)}.",
        "",
        "A small CNN trained on half of each set, scored on the other half; 0.5 is chance, 1.0 perfect "
        "separation. Intervals: bootstrap of the held-out predictions (the trained CNN held fixed).",
        "",
        "## Feature distance",
        "",
        f"- KID: **{_interval(result['feature_distance'], result['feature_distance_ci'], 4)}**",
        "",
        "Unbiased squared MMD (polynomial kernel) of the held-out images' features from an autoencoder "
        "trained here on the train halves of both sets (no A-vs-B label); about 0 for one distribution. "
        "Each run trains its own autoencoder: compare distances within a run, or across a few seeds.",
        "",
        "## Image statistics",
        "",
        "| figure | A | B | B - A |",
        "|---|---|---|---|",
    ]
    for name in FIGURES:
        a, b = stats["a"][name], stats["b"][name]
        lines.append(
            f"| {name} ({UNITS[name]}) | {a['mean']:.1f} ± {a['std']:.1f} | {b['mean']:.1f} ± {b['std']:.1f} "
            f"| {difference[name]:+.1f} |"
        )
    for channel in CHANNELS:
        lines.append(
            f"| {channel} mean (levels) | {stats['a']['channel_mean'][channel]:.1f} "
            f"| {stats['b']['channel_mean'][channel]:.1f} | {difference['channel_mean'][channel]:+.1f} |"
        )
    shifts = ", ".join(f"{c} {v:.1f}" for c, v in difference["histogram_wasserstein"].items())
    lines += [
        "",
        f"Earth mover's distance between the channel histograms (levels): {shifts}.",
        "",
        f"![histograms]({FILES['histograms']})",
        "",
        "## Most telling images",
        "",
        "Held-out images classified right with the highest confidence: A on the top row, B on the bottom.",
        "",
        f"![most telling images]({FILES['telling']})",
        "",
    ]
    return "\n".join(lines)


def write_report(out: Path, result: dict[str, Any], a: SetStats, b: SetStats, telling: np.ndarray) -> dict[str, str]:
    """Write the four files into ``out``; returns name -> path (also stored as ``result['files']``)."""
    files = {name: str(out / filename) for name, filename in FILES.items()}
    result["files"] = files
    write_atomically(Path(files["histograms"]), histograms_png(a, b))
    write_atomically(Path(files["telling"]), encode_png(telling))
    write_atomically(Path(files["report"]), markdown(result).encode())
    write_atomically(Path(files["json"]), (json.dumps(result, indent=1) + "\n").encode())
    return files
