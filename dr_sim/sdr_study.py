"""Structured against uniform domain randomization on the perception study (Prakash et al. 2019's shape).

``python -m dr_sim.sdr_study launch/sdr_study.yaml [--out DIR] [--sizes N ...] [--epochs N]``

Two arms render their training sets from the perception ablation's generator settings and seed
(``ablation``: the same image counts, the same training budget, the same held-out look): ``uniform`` is
one of the ablation's arms (its ``full`` randomization), ``structured`` a randomization YAML with a
``structure`` section (``launch/sdr_localize.yaml``). Each arm trains at every size in ``sizes``, and
``replicates - 1`` more times at the largest size with other generator and training seeds.

Both are scored on the ablation's held-out set (its images unchanged, generated here with the target's
visible fraction labelled) and on held-out ``variants`` (the held-out look with its distractors arranged
otherwise, e.g. in front of the target). The hard slice is fixed from the held-out labels before any
model is scored: visible targets that are small (at most the ``small_quantile`` of the held-out set's
visible target pixel counts) or heavily occluded (visible fraction below ``occluded_below``); ``easy``
is every other visible target. Prakash's shape: SDR gains most on the hard slice.

Output (``out``): ``points/<arm>_<size>/{data,run,result.json}``, ``heldout/``, and ``results.json``,
``results.md`` and ``results.png`` (held-out error against training images, per arm and slice).
Rerunning resumes, as the perception study does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from dr_sim.config import config_from_dict
from dr_sim.config.loader import read_yaml_mapping, validated
from dr_sim.config.params import StrictModel
from dr_sim.errors import ConfigError
from dr_sim.perception_study import HeldOutVariant, Study, load_study, points

ARMS = ("uniform", "structured")
SLICES = ("small", "occluded", "hard", "easy")


class HardSlice(StrictModel):
    """Thresholds of the hard slice: ``small_quantile`` of the held-out set's visible target pixel counts
    (a target at or below it is small), ``occluded_below`` a visible fraction (below it: heavily occluded)."""

    small_quantile: float = Field(default=0.2, gt=0, lt=1)
    occluded_below: float = Field(default=0.6, gt=0, le=1)


class SpreadGrid(StrictModel):
    """World points (m) whose pixel scatter over a data set measures its camera range: a ``count`` x
    ``count`` grid on the rectangle from ``low`` to ``high`` (see ``dr_sim.camera_spread``)."""

    low: list[float] = Field(min_length=3, max_length=3)
    high: list[float] = Field(min_length=3, max_length=3)
    count: int = Field(default=5, ge=2)


class SdrStudyConfig(StrictModel):
    """The SDR study (see ``launch/sdr_study.yaml`` for each key)."""

    ablation: str
    out: str = "runs/sdr_study"
    uniform: str = "full"
    structured: str
    sizes: list[int] = Field(min_length=1)
    heldout_images: int | None = Field(default=None, gt=0)
    epochs: int | None = Field(default=None, gt=0)
    variants: dict[str, HeldOutVariant] = Field(default_factory=dict)
    hard: HardSlice = Field(default_factory=HardSlice)
    camera_spread: SpreadGrid | None = None
    replicates: int = Field(default=1, ge=1)

    @field_validator("sizes")
    @classmethod
    def _positive(cls, sizes: list[int]) -> list[int]:
        if any(size < 1 for size in sizes) or len(set(sizes)) != len(sizes):
            raise ValueError(f"sizes are distinct positive image counts, got {sizes}")
        return sorted(sizes)


def load_sdr_study(data: dict[str, Any], origin: str = "SDR study config") -> SdrStudyConfig:
    """A validated ``SdrStudyConfig``; one ``ConfigError`` when bad."""
    return validated(SdrStudyConfig, data, origin)


def arm_randomizations(config: SdrStudyConfig) -> dict[str, dict[str, Any]]:
    """The randomization of each arm: the ablation's ``uniform`` arm and the ``structured`` YAML."""
    ablation = load_study(config.ablation)
    arms = points(ablation, [])
    if config.uniform not in arms:
        raise ConfigError(f"uniform: {config.uniform!r} is not an arm of {config.ablation}; arms: {', '.join(arms)}")
    structured = read_yaml_mapping(config.structured, "structured randomization")
    if config_from_dict(structured, origin=config.structured).structure is None:
        raise ConfigError(f"structured: {config.structured} has no 'structure' section")
    return {"uniform": arms[config.uniform]["randomization"], "structured": structured}


class SdrStudy(Study):
    """The perception study's machinery (generation, training, resuming, held-out sets) on the two arms."""

    def __init__(self, config: SdrStudyConfig, out: str | Path | None = None) -> None:
        ablation = load_study(config.ablation)
        heldout = ablation.heldout.model_copy(
            update={
                "n": config.heldout_images or ablation.heldout.n,
                "variants": config.variants,
                "visibility": "target",
            }
        )
        training = {**ablation.training, **({"epochs": config.epochs} if config.epochs else {})}
        base = ablation.model_copy(
            update={
                "out": config.out,
                "images": config.sizes[-1],
                "texture_sweep": None,
                "heldout": heldout,
                "training": training,
            }
        )
        super().__init__(base, out if out is not None else config.out)
        self.sdr = config
        self.arms = arm_randomizations(config)
        self.slices: dict[str, dict[str, np.ndarray]] = {}
        self.thresholds: dict[str, float] = {}

    def points(self) -> dict[str, dict[str, Any]]:
        """Each arm at each size, then ``replicates - 1`` more runs of each arm at the largest size
        (``<arm>_<size>_seed<k>``: the generator's and the training's seeds + k)."""
        todo = {
            f"{arm}_{size}": {"group": arm, "randomization": randomization, "images": size}
            for size in self.sdr.sizes
            for arm, randomization in self.arms.items()
        }
        largest = self.sdr.sizes[-1]
        for k in range(1, self.sdr.replicates):
            for arm, randomization in self.arms.items():
                todo[f"{arm}_{largest}_seed{k}"] = {
                    "group": arm,
                    "randomization": randomization,
                    "images": largest,
                    "replicate": k,
                }
        return todo

    def heldout(self) -> dict[str, Any]:
        """The held-out sets, and each one's slices from its labels (thresholds from the main set)."""
        sets = super().heldout()
        labels = {name: target_labels(self.heldout_root(name)) for name in sets}
        pixels, _ = labels["heldout"]
        small = float(np.quantile(pixels[pixels > 0], self.sdr.hard.small_quantile))
        self.thresholds = {"small_pixels": small, "occluded_below": self.sdr.hard.occluded_below}
        self.slices = {name: slice_masks(*labels[name], small, self.sdr.hard.occluded_below) for name in sets}
        return sets

    def score(self, net: Any, scaler: Any, name: str, data: Any) -> dict[str, Any]:
        """``evaluate_model``'s subsets plus the slices (``SLICES``) of the set ``name``."""
        from dr_sim.policies.pose_net import predict_xy
        from dr_sim.policies.pose_training import error_stats, score

        predicted = predict_xy(net, scaler, data.images)
        result = score(predicted, data.xy, data.distractors, data.target_pixels > 0)
        errors = np.linalg.norm(predicted[:, :2] - data.xy[:, :2], axis=1)
        result["slices"] = {key: error_stats(errors[mask]) for key, mask in self.slices[name].items()}
        result["errors_cm"] = np.round(100.0 * errors, 4).tolist()  # per image, for the paired interval
        return result

    def summarize(self, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return summarize(results, self)

    def camera_spreads(self) -> dict[str, list[float]]:
        """The camera range (u, v px; ``dr_sim.camera_spread``) of each arm's largest training set and of
        each held-out set: the arms should match, so that they differ in context and not in camera range."""
        from dr_sim.camera_spread import grid_points, image_spread

        grid = self.sdr.camera_spread
        if grid is None:
            return {}
        points = grid_points(grid.low, grid.high, grid.count)
        roots = {arm: self.out / "points" / f"{arm}_{self.sdr.sizes[-1]}" / "data" for arm in self.arms}
        roots.update({name: self.heldout_root(name) for name in self.slices})
        spreads = {}
        for name, root in roots.items():
            if root.is_dir():
                cameras = ((label["camera"]["K"], label["camera"]["pose"]) for label in read_labels(root))
                spreads[name] = [round(float(value), 2) for value in image_spread(cameras, points)]
        return spreads

    def write_report(self, summary: dict[str, Any]) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
        (self.out / "results.md").write_text(markdown(summary))
        plot(summary, self.out / "results.png")


def read_labels(root: Path) -> list[dict[str, Any]]:
    """The labels of every image of a data set, in index order (the images are not loaded)."""
    from dr_sim.datasets.shards import iter_labels, read_meta

    return [label for _, label in iter_labels(root, read_meta(root))]


def target_labels(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """(visible pixels, visible fraction) of the target in every image of a data set (NaN: not labelled)."""
    labels = read_labels(root)
    pixels, fractions = np.zeros(len(labels), dtype=np.int64), np.full(len(labels), np.nan)
    for i, label in enumerate(labels):
        target = label["objects"][0]
        pixels[i] = int(target.get("pixels", 0))
        if target.get("visibility") is not None:
            fractions[i] = float(target["visibility"])
    return pixels, fractions


def slice_masks(pixels: np.ndarray, fractions: np.ndarray, small: float, occluded: float) -> dict[str, np.ndarray]:
    """Boolean masks of ``SLICES`` over visible targets: small (pixels <= ``small``), occluded (visible
    fraction < ``occluded``), hard (either) and easy (neither)."""
    visible = pixels > 0
    masks = {"small": visible & (pixels <= small), "occluded": visible & (np.nan_to_num(fractions, nan=1.0) < occluded)}
    masks["hard"] = masks["small"] | masks["occluded"]
    masks["easy"] = visible & ~masks["hard"]
    return masks


# -- the report ---------------------------------------------------------------------------------------
def pooled(result: dict[str, Any], key: str) -> tuple[float | None, int]:
    """The mean error (cm) and image count of slice ``key`` (or subset ``all``) over every held-out set."""
    sets = [result["heldout"], *result.get("variants", {}).values()]
    stats = [s["slices"][key] if key in SLICES else s["subsets"][key] for s in sets]
    count = sum(int(s["n"]) for s in stats)
    total = sum(s["n"] * s["mean_cm"] for s in stats if s["n"])
    return (total / count if count else None), count


def summarize(results: dict[str, dict[str, Any]], study: SdrStudy) -> dict[str, Any]:
    """Per arm and size the held-out errors (the main set, the variants, the pooled slices), the goal
    (structured below uniform on the pooled hard slice at the largest size) and the gains per slice."""
    table: dict[str, dict[str, Any]] = {}
    for name, result in results.items():
        pool = {key: pooled(result, key) for key in ("all", *SLICES)}
        table[name] = {
            "arm": result["group"],
            "images": result["spec"]["images"],
            "heldout": result["heldout"],
            "variants": result.get("variants", {}),
            "pooled": {key: {"mean_cm": mean, "n": n} for key, (mean, n) in pool.items()},
            "val_mean_cm": result["val_mean_cm"],
            "generate_s": result["generate_s"],
            "train_s": result["train_s"],
            "replicate": result.get("replicate", 0),
        }
    largest = study.sdr.sizes[-1]
    uniform, structured = table.get(f"uniform_{largest}"), table.get(f"structured_{largest}")
    gains = error_ratios(uniform, structured) if uniform and structured else {}
    replicates = {}
    for k in range(1, study.sdr.replicates):
        pair = table.get(f"uniform_{largest}_seed{k}"), table.get(f"structured_{largest}_seed{k}")
        if pair[0] and pair[1]:
            replicates[f"seed{k}"] = error_ratios(*pair)
    hard = gains.get("hard")
    interval = hard_interval(results, study, largest) if uniform and structured else None
    return {
        "settings": {
            "sizes": study.sdr.sizes,
            "training": study.config.training,
            "heldout_images": study.config.heldout.n,
            "variants": {name: variant.n for name, variant in study.sdr.variants.items()},
            "thresholds": study.thresholds,
            "slice_sizes": {
                where: {key: int(mask.sum()) for key, mask in masks.items()} for where, masks in study.slices.items()
            },
        },
        "points": table,
        "camera_spread_px": study.camera_spreads(),
        "gains": gains,
        "replicate_gains": replicates,
        "goal": {
            "uniform / structured, pooled hard slice > 1": hard,
            "95% interval": interval,
            # met when structured is better beyond the paired interval (or by the ratio alone without one)
            "met": None if hard is None else hard > 1 and (interval is None or interval[0] > 1),
            "largest gain on the hard slice": None
            if not gains or any(v is None for v in gains.values())
            else max(gains, key=lambda key: gains[key]) in ("hard", "small", "occluded"),
        },
        "wall_s": sum(r["generate_s"] + r["train_s"] + r.get("evaluate_s", 0.0) for r in results.values()),
    }


def error_ratios(uniform: dict[str, Any], structured: dict[str, Any]) -> dict[str, float | None]:
    """Uniform / structured pooled mean error per slice (and ``all``) of two summary rows; above 1:
    structured is better."""
    ratios: dict[str, float | None] = {}
    for key in ("all", *SLICES):
        u, s = uniform["pooled"][key]["mean_cm"], structured["pooled"][key]["mean_cm"]
        ratios[key] = None if u is None or not s else u / s
    return ratios


def hard_interval(
    results: dict[str, dict[str, Any]], study: SdrStudy, size: int, resamples: int = 2000, seed: int = 0
) -> list[float] | None:
    """A paired bootstrap 95% interval of the pooled hard slice's uniform / structured mean-error ratio at
    ``size``: the same hard images are resampled for both arms (``None`` when per-image errors are absent)."""
    pairs = []
    for arm in ("uniform", "structured"):
        result = results[f"{arm}_{size}"]
        sets = {"heldout": result["heldout"], **result.get("variants", {})}
        if any("errors_cm" not in scores for scores in sets.values()):
            return None
        pairs.append(
            np.concatenate(
                [np.asarray(scores["errors_cm"])[study.slices[name]["hard"]] for name, scores in sets.items()]
            )
        )
    uniform, structured = pairs
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(uniform), size=(resamples, len(uniform)))
    ratios = uniform[picks].mean(axis=1) / structured[picks].mean(axis=1)
    return [float(np.quantile(ratios, 0.025)), float(np.quantile(ratios, 0.975))]


def _interval(bounds: list[float] | None) -> str:
    return "" if not bounds else f", paired bootstrap 95% interval [{bounds[0]:.2f}, {bounds[1]:.2f}]"


def _cm(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def markdown(summary: dict[str, Any]) -> str:
    """Tables (mean error, cm) per arm and size on the held-out set, the variants and the pooled slices."""
    settings = summary["settings"]
    thresholds = settings["thresholds"]
    lines = [
        "# Structured vs uniform domain randomization (Prakash et al. 2019's shape)",
        "",
        f"Training images per arm: {', '.join(map(str, settings['sizes']))}; {settings['training'].get('epochs')} "
        f"epochs each; held-out set of {settings['heldout_images']} images plus variants "
        f"{settings['variants'] or '(none)'}. Hard slice (fixed from the held-out labels): visible targets of at "
        f"most {thresholds.get('small_pixels', 0):g} px, or less than {thresholds.get('occluded_below', 0):g} of "
        "them visible. Mean error on the table plane, cm.",
        "",
        "| point | "
        + " | ".join(
            ["held-out all", "object only", "with distractors"]
            + [f"{name} all" for name in settings["variants"]]
            + [f"pooled {key}" for key in SLICES]
            + ["sim val"]
        )
        + " |",
        "|---|" + "---|" * (4 + len(settings["variants"]) + len(SLICES)),
    ]
    for name, row in summary["points"].items():
        subsets = row["heldout"]["subsets"]
        cells = [_cm(subsets[key]["mean_cm"]) for key in ("all", "object_only", "with_distractors")]
        cells += [_cm(row["variants"][v]["subsets"]["all"]["mean_cm"]) for v in settings["variants"]]
        cells += [f"{_cm(row['pooled'][key]['mean_cm'])} (n={row['pooled'][key]['n']})" for key in SLICES]
        lines.append(f"| {name} | {' | '.join(cells)} | {_cm(row['val_mean_cm'])} |")
    lines += ["", "Slice sizes per held-out set:", "", "| set | " + " | ".join(SLICES) + " |"]
    lines.append("|---|" + "---|" * len(SLICES))
    for where, sizes in settings["slice_sizes"].items():
        lines.append(f"| {where} | " + " | ".join(str(sizes[key]) for key in SLICES) + " |")
    spreads = summary.get("camera_spread_px")
    if spreads:
        lines += ["", "Camera range: pixel standard deviation of a grid of table points over each set (u, v):", ""]
        lines += ["| " + " | ".join(spreads) + " |", "|" + "---|" * len(spreads)]
        lines.append("| " + " | ".join(f"{u:.2f}, {v:.2f}" for u, v in spreads.values()) + " |")
    gains = summary["gains"]
    if gains:
        lines += ["", "Error ratio uniform / structured at the largest size (above 1: structured is better):", ""]
        lines += ["| run | " + " | ".join(gains) + " |", "|---|" + "---|" * len(gains)]
        runs = {"main": gains, **summary.get("replicate_gains", {})}
        for run, ratios in runs.items():
            lines.append(f"| {run} | " + " | ".join(_cm(value) for value in ratios.values()) + " |")
        if len(runs) > 1:
            means = [np.mean([r[key] for r in runs.values() if r[key] is not None] or [np.nan]) for key in gains]
            lines.append("| mean | " + " | ".join(_cm(None if np.isnan(m) else float(m)) for m in means) + " |")
    goal = summary["goal"]
    met = {True: "yes", False: "no", None: "-"}
    lines += [
        "",
        f"Goal, SDR beats uniform on the hard slice: {met[goal['met']]} (ratio {_cm(goal[next(iter(goal))])}"
        f"{_interval(goal.get('95% interval'))}); the largest gain is on a hard slice: "
        f"{met[goal['largest gain on the hard slice']]}.",
        "",
        f"Wall time of the points: {summary['wall_s'] / 60:.1f} min.",
        "",
    ]
    return "\n".join(lines)


def plot(summary: dict[str, Any], path: Path) -> Path | None:
    """Pooled held-out error against training images per arm, one panel per slice (PNG); ``None``
    without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    keys = ("all", *SLICES)
    figure, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.6), squeeze=False)
    for axis, key in zip(axes[0], keys, strict=True):
        for arm in ARMS:
            rows = sorted(
                (r["images"], r["pooled"][key]["mean_cm"])
                for r in summary["points"].values()
                if r["arm"] == arm and not r.get("replicate")
            )
            rows = [(x, y) for x, y in rows if y is not None]
            if rows:
                axis.plot([x for x, _ in rows], [y for _, y in rows], "o-", label=arm)
        axis.set_xscale("log")
        axis.set_xlabel("training images")
        axis.set_ylabel("mean error (cm)")
        axis.set_title(f"held-out, {key}")
        if axis.get_legend_handles_labels()[0]:
            axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


# -- command line -------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The study's arguments."""
    from dr_sim.arguments import positive_int

    parser.add_argument("config", metavar="CONFIG", help="study config (launch/sdr_study.yaml)")
    parser.add_argument("--out", default=None, help="output folder (default: the config's 'out')")
    parser.add_argument("--sizes", type=positive_int, nargs="+", default=None, help="training images per arm (pilots)")
    parser.add_argument("--epochs", type=positive_int, default=None, help="epochs per point (pilot runs)")
    parser.add_argument("--heldout-images", type=positive_int, default=None, help="held-out images (pilot runs)")


def run(args: argparse.Namespace) -> int:
    """Run the study and print the markdown report."""
    data = read_yaml_mapping(args.config, "SDR study config")
    if args.sizes is not None:
        data["sizes"] = args.sizes
    if args.heldout_images is not None:
        data["heldout_images"] = args.heldout_images
        data["variants"] = {name: {**v, "n": args.heldout_images} for name, v in (data.get("variants") or {}).items()}
    if args.epochs is not None:
        data["epochs"] = args.epochs
    print(markdown(SdrStudy(load_sdr_study(data, str(args.config)), args.out).run()))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m dr_sim.sdr_study``: one line on stderr and exit code 2 on a bad config."""
    from dr_sim.arguments import module_main

    return module_main("dr_sim.sdr_study", add_arguments, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
