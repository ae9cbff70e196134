"""The run folder of ``dr-sim adapt train`` with ``method: cyclegan``.

``RUN`` (the config's ``out``) receives

- ``config.yaml`` (resolved), ``git.txt`` and ``command.txt`` (``dr_sim.run_files``);
- ``model.pt``: the sim-to-target generator (what ``dr-sim adapt apply`` uses), the target-to-sim one
  (``inverse``), the frozen segmenter, the resolved config and the image size (px);
- ``metrics.json``: wall times (s), training images/s, split sizes, the segmenter's mean IoU on the
  sim validation images before and after translation, and the gap meter's figures;
- ``losses.json`` (every step's loss terms, per-epoch means, the segmenter's per-pass losses) and
  ``losses.png`` (their curves);
- ``examples.png``: sim validation images (top row), their translations, and the translations
  brought back to sim (bottom row, the cycle);
- ``target_split.json``: which target files trained and which were held back;
- ``gap/``: the gap meter's image sets and reports (``dr_sim.gap``): sim validation images before and
  after translation, each against the held-back target images, which the training never saw;
- ``report.md``: all of the above in words;
- ``sim/``: the sim data set, when the config renders it and names no other folder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dr_sim.adapt.cycle_config import CycleConfig
from dr_sim.adapt.cyclegan import CycleNets, Splits, fit, make_splits, make_translator
from dr_sim.adapt.run_folder import EXAMPLES, EXAMPLES_FILE, FORMAT, METRICS_FILE, MODEL_FILE, sheet
from dr_sim.adapt.segmenter import mean_iou, predict
from dr_sim.adapt.training import translate
from dr_sim.adapt.unpaired_data import SimImages, ensure_sim, load_sim, load_target, target_files
from dr_sim.errors import ConfigError
from dr_sim.extras import require
from dr_sim.file_io import encode_png, write_atomically
from dr_sim.gap.cli import MIN_IMAGES, measure_gap
from dr_sim.run_files import write_run_files

LOSSES_FILE = "losses.json"
LOSS_PLOT = "losses.png"
REPORT_FILE = "report.md"
SPLIT_FILE = "target_split.json"
GAP_FOLDER = "gap"
Log = Callable[[str], None]
GENERATOR_TERMS = ("generator", "adversarial", "cycle", "identity", "semantic", "depth")
DISCRIMINATOR_TERMS = ("discriminator_target", "discriminator_sim")


def train_cyclegan(config: CycleConfig, log: Log | None = None) -> Path:
    """Train the unpaired translator a config describes; returns the run folder (module docstring)."""
    run = Path(config.out)
    if run.exists() and not run.is_dir():
        raise ConfigError(f"out {str(run)!r} is a file; give a folder for the run")
    target_files(config.target.path)  # a bad target folder fails before any rendering
    sim_root, render_seconds = ensure_sim(config.sim, run / "sim", log)
    sim = load_sim(sim_root)
    target, names = load_target(config.target.path, sim.image_size)
    splits = make_splits(config, len(sim), len(target), np.random.default_rng([config.seed, 0]))
    if config.gap is not None:
        _check_gap_sizes(splits)
    resolved = config.model_dump(mode="json")
    write_run_files(resolved, run)
    previous = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        nets, metrics = fit(config, sim, target, splits, log)
    finally:
        torch.set_num_threads(previous)
    checkpoint = {
        "format": FORMAT,
        "config": resolved,
        "image_size": sim.image_size,
        "generator": nets.sim_to_target.state_dict(),
        "inverse": nets.target_to_sim.state_dict(),
        "segmenter": None if nets.segmenter is None else nets.segmenter.state_dict(),
    }
    torch.save(checkpoint, run / MODEL_FILE)
    split_record = {
        "train": [names[i] for i in splits.target_train],
        "held_back": [names[i] for i in splits.target_held],
    }
    (run / SPLIT_FILE).write_text(json.dumps(split_record, indent=1) + "\n")
    shown = torch.from_numpy((splits.sim_val if len(splits.sim_val) else splits.sim_train)[:EXAMPLES])
    translated = translate(nets.sim_to_target, sim.rgb[shown])
    rows = [sim.rgb[shown], translated, translate(nets.target_to_sim, translated)]
    write_atomically(run / EXAMPLES_FILE, encode_png(sheet([row.permute(0, 2, 3, 1).numpy() for row in rows])))
    losses = {key: metrics.pop(key) for key in ("steps", "history", "segmenter_history")}
    (run / LOSSES_FILE).write_text(json.dumps(losses) + "\n")
    plot_losses(losses, run / LOSS_PLOT)
    metrics["consistency"] = consistency(nets, sim, splits)
    if config.gap is not None:
        metrics["gap"] = measure_translation_gap(config, nets, sim, target, splits, run / GAP_FOLDER, log)
    metrics.update(
        method=config.method,
        sim=str(sim_root),
        target=config.target.path,
        image_size=sim.image_size,
        render_seconds=render_seconds,
        parameters=sum(p.numel() for p in nets.sim_to_target.parameters()),
        threads=config.threads,
        finished=time.strftime("%Y-%m-%d %H:%M:%S"),
    )
    (run / METRICS_FILE).write_text(json.dumps(metrics, indent=1) + "\n")
    write_atomically(run / REPORT_FILE, report_text(config, metrics).encode())
    return run


def _check_gap_sizes(splits: Splits) -> None:
    """One ``ConfigError`` when the gap meter would have fewer images a side than it needs."""
    held = {
        "sim validation (val_fraction)": len(splits.sim_val),
        "held-back target (target.holdout)": len(splits.target_held),
    }
    for what, count in held.items():
        if count < MIN_IMAGES:
            raise ConfigError(
                f"the gap meter needs at least {MIN_IMAGES} images a side, and the {what} images are {count}: "
                f"raise that fraction, add images, or set gap: null"
            )


def consistency(nets: CycleNets, sim: SimImages, splits: Splits) -> dict[str, Any] | None:
    """The frozen segmenter's mean IoU (and per category) on the sim validation images (the training
    images when none are held out), untranslated and translated, against their semantic maps."""
    if nets.segmenter is None:
        return None
    index = torch.from_numpy(splits.sim_val if len(splits.sim_val) else splits.sim_train)
    labels = sim.semantic[index]
    result = {}
    for when, images in (("sim", sim.rgb[index]), ("translated", translate(nets.sim_to_target, sim.rgb[index]))):
        mean, per_class = mean_iou(predict(nets.segmenter, images), labels)
        result[when] = {"mean_iou": mean, "per_category": {str(k): v for k, v in per_class.items()}}
    result["images"] = len(index)
    return result


def _write_pngs(folder: Path, images: torch.Tensor) -> Path:
    """uint8 images (N, 3, H, W) as ``folder/00000.png`` ...; returns ``folder``."""
    for i, image in enumerate(images.permute(0, 2, 3, 1).numpy()):
        write_atomically(folder / f"{i:05d}.png", encode_png(image))
    return folder


def measure_translation_gap(
    config: CycleConfig,
    nets: CycleNets,
    sim: SimImages,
    target: torch.Tensor,
    splits: Splits,
    folder: Path,
    log: Log | None = None,
) -> dict[str, Any]:
    """The gap meter's AUC of sim validation images against held-back target images, before and after
    translation (at most ``gap.n`` images a side); the reports go into ``folder``."""
    assert config.gap is not None
    count = min(config.gap.n, len(splits.sim_val), len(splits.target_held))
    sim_index = torch.from_numpy(splits.sim_val[:count])
    target_dir = _write_pngs(folder / "target_held_back", target[torch.from_numpy(splits.target_held[:count])])
    sources = {
        "before": _write_pngs(folder / "sim", sim.rgb[sim_index]),
        "after": _write_pngs(folder / "translated", translate(nets.sim_to_target, sim.rgb[sim_index])),
    }
    result: dict[str, Any] = {"images_per_side": count}
    for when, source in sources.items():
        if log is not None:
            log(f"gap meter: sim {when} translation against the held-back target images")
        measured = measure_gap(
            source,
            target_dir,
            out=folder / when,
            n=count,
            size=sim.image_size,
            seed=config.gap.seed,
            epochs=config.gap.epochs,
        )
        result[when] = {key: measured[key] for key in ("auc", "auc_ci", "accuracy", "feature_distance", "n_test_a")}
    return result


def _smoothed(values: list[float], window: int) -> np.ndarray:
    """Running mean over ``window`` steps (shorter at the start)."""
    data = np.asarray(values, dtype=float)
    cumulative = np.concatenate([[0.0], np.cumsum(data)])
    ends = np.arange(1, len(data) + 1)
    starts = np.maximum(ends - window, 0)
    return (cumulative[ends] - cumulative[starts]) / (ends - starts)


def plot_losses(losses: dict[str, Any], path: Path) -> Path:
    """``losses.png``: the generators' terms, the discriminators' losses (per step, running mean) and the
    segmenter's loss per pass."""
    backend_agg = require("matplotlib.backends.backend_agg", "dr-sim adapt train")
    figure = require("matplotlib.figure", "dr-sim adapt train").Figure(figsize=(13, 4), dpi=80, layout="constrained")
    axes = figure.subplots(1, 3)
    steps = losses["steps"]
    window = max(1, len(steps) // 50)
    for ax, names, title in (
        (axes[0], GENERATOR_TERMS, "generators (unweighted terms; generator: weighted total)"),
        (axes[1], DISCRIMINATOR_TERMS, "discriminators (LSGAN)"),
    ):
        for name in names:
            if steps and name in steps[0]:
                ax.plot(np.arange(1, len(steps) + 1), _smoothed([s[name] for s in steps], window), label=name)
        ax.set_xlabel(f"step (running mean of {window})")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=8)
    history = losses["segmenter_history"]
    if history:
        for name in ("segmentation", "depth"):
            if name in history[0]:
                axes[2].plot([row["epoch"] for row in history], [row[name] for row in history], "o-", label=name)
        axes[2].legend(fontsize=8)
    axes[2].set_xlabel("pass over the sim training images")
    axes[2].set_title("segmenter (cross-entropy; depth L1, m)", fontsize=9)
    canvas = backend_agg.FigureCanvasAgg(figure)
    canvas.print_png(str(path))
    return path


def report_text(config: CycleConfig, metrics: dict[str, Any]) -> str:
    """``report.md``: what was trained on what, how long, semantic consistency and the gap meter."""
    lines = [
        f"# Unpaired translation toward {config.target.path} (CycleGAN with semantic consistency)",
        "",
        f"Finished {metrics['finished']}. Sim: {metrics['sim']} ({metrics['sim_train']} images to train, "
        f"{metrics['sim_val']} to validate); target: {config.target.path} ({metrics['target_train']} images to "
        f"train, {metrics['target_held']} held back). {metrics['image_size']} px.",
        "",
        f"Training: segmenter {metrics['segmenter_seconds']:.0f} s, translator {metrics['train_seconds']:.0f} s "
        f"({config.epochs} epochs, {metrics['images_per_s']:.1f} images/s, {metrics['threads']} thread(s)); "
        f"rendering {metrics['render_seconds']:.0f} s.",
        "",
        "![loss curves](losses.png)",
        "",
        "![sim validation images (top), translated toward the target (middle), and back (bottom)](examples.png)",
        "",
    ]
    if metrics.get("consistency") is not None:
        c = metrics["consistency"]
        lines += [
            f"Semantic consistency: the frozen segmenter's mean IoU on {c['images']} sim validation images "
            f"against their labels is {c['sim']['mean_iou']:.3f} before translation and "
            f"{c['translated']['mean_iou']:.3f} after.",
            "",
        ]
    gap = metrics.get("gap")
    if gap is not None:
        lines += [
            f"Gap meter (`dr-sim gap`), sim validation images against held-back target images that the training "
            f"never saw ({gap['images_per_side']} a side, half of each to train the classifier). ROC AUC, 95% "
            f"interval; 0.5: indistinguishable:",
            "",
            "| | ROC AUC | accuracy | KID |",
            "|---|---|---|---|",
        ]
        for when, label in (("before", "sim, untranslated"), ("after", "sim, translated")):
            g = gap[when]
            lines.append(
                f"| {label} | {g['auc']:.3f} [{g['auc_ci'][0]:.3f}, {g['auc_ci'][1]:.3f}] | {g['accuracy']:.3f} "
                f"| {g['feature_distance']:.4f} |"
            )
        lines.append("")
    return "\n".join(lines)


def load_cycle_generator(checkpoint: dict[str, Any], config: CycleConfig, key: str = "generator") -> Any:
    """The ``key`` generator (``generator``: sim to target; ``inverse``: target to sim) of a checkpoint,
    in eval mode."""
    generator = make_translator(config)
    generator.load_state_dict(checkpoint[key])
    generator.eval()
    return generator
