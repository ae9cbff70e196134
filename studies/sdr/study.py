"""Structured against uniform domain randomization on the perception study (Prakash et al. 2019's shape).

``python -m studies.sdr [CONFIG] [--out DIR] [--only POINT ...] [--set KEY=VALUE ...]``

Two arms render their training sets from the perception ablation's generator settings and seed
(``ablation``: its config, read as data; the same image counts, training budget and held-out look):
``uniform`` is one of the ablation's arms (its ``full`` randomization), ``structured`` a randomization
YAML with a ``structure`` section (``launch/configs/sdr_localize.yaml``). Each arm trains at every size in
``sizes``, and ``replicates - 1`` more times at the largest size with other generator and training seeds.

Both are scored on the ablation's held-out set (its images unchanged, generated here with the target's
visible fraction labelled) and on held-out ``variants`` (the held-out look with its distractors arranged
otherwise, e.g. in front of the target). The hard slice is fixed from the held-out labels before any
model is scored: visible targets that are small (at most the ``small_quantile`` of the held-out set's
visible target pixel counts) or heavily occluded (visible fraction below ``occluded_below``); ``easy``
is every other visible target. Prakash's shape: SDR gains most on the hard slice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from dr_sim.camera_spread import grid_points, image_spread
from dr_sim.config import config_from_dict
from dr_sim.config.loader import read_yaml_mapping
from dr_sim.config.params import StrictModel
from dr_sim.datasets.shards import iter_labels, read_meta
from dr_sim.errors import ConfigError
from dr_sim.policies.pose_sweep import ScoringSets, replicate, score_point, train_cached
from dr_sim.statistics import paired_ratio_interval
from studies.harness import Goal, Point, Report, Study, Table, cm_cell
from studies.harness.report import pyplot
from studies.heldout.textures import write_textures
from studies.perception.study import HeldOutVariant, heldout_sets, load_ablation, points

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
    """The SDR study (see ``studies/sdr/config.yaml`` for each key)."""

    ablation: str
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


def read_labels(root: Path) -> list[dict[str, Any]]:
    """The labels of every image of a data set, in index order (the images are not loaded)."""
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


def pooled_slice(result: dict[str, Any], key: str) -> dict[str, Any]:
    """The mean error (cm) and image count of slice ``key`` (or subset ``all``) over every held-out set."""
    stats = [s["slices"][key] if key in SLICES else s["subsets"][key] for s in result["scores"].values()]
    count = sum(int(s["n"]) for s in stats)
    total = sum(s["n"] * s["mean_cm"] for s in stats if s["n"])
    return {"mean_cm": total / count if count else None, "n": count}


def error_ratios(uniform: dict[str, Any], structured: dict[str, Any]) -> dict[str, float | None]:
    """Uniform / structured pooled mean error per slice (and ``all``); above 1: structured is better."""
    ratios: dict[str, float | None] = {}
    for key in ("all", *SLICES):
        u, s = pooled_slice(uniform, key)["mean_cm"], pooled_slice(structured, key)["mean_cm"]
        ratios[key] = None if u is None or not s else u / s
    return ratios


class SdrStudy(Study):
    """Each arm at each size (and its replicates): the pose network trained and scored with slices."""

    name = "sdr"
    config_model = SdrStudyConfig
    config: SdrStudyConfig

    def __init__(self, config: SdrStudyConfig, folder: Path, out: Path | None = None, log: Any = None) -> None:
        super().__init__(config, folder, out, log)
        self.ablation, self.ablation_folder = load_ablation(self.path(config.ablation))
        self.training = {**self.ablation.training, **({"epochs": config.epochs} if config.epochs else {})}
        self.arms = self.arm_randomizations()
        self.sets: dict[str, Any] = {}
        self.slices: dict[str, dict[str, np.ndarray]] = {}
        self.thresholds: dict[str, float] = {}

    def arm_randomizations(self) -> dict[str, dict[str, Any]]:
        """The randomization of each arm: the ablation's ``uniform`` arm and the ``structured`` YAML."""
        arms = points(self.ablation, [])
        if self.config.uniform not in arms:
            raise ConfigError(
                f"uniform: {self.config.uniform!r} is not an arm of {self.config.ablation}; arms: {', '.join(arms)}"
            )
        path = self.path(self.config.structured)
        structured = read_yaml_mapping(path, "structured randomization")
        if config_from_dict(structured, origin=str(path)).structure is None:
            raise ConfigError(f"structured: {path} has no 'structure' section")
        return {"uniform": arms[self.config.uniform]["randomization"], "structured": structured}

    def scoring_sets(self) -> ScoringSets:
        """The ablation's held-out set (``heldout_images``, visible fractions labelled) and this study's variants."""
        return heldout_sets(
            self.ablation,
            self.ablation_folder,
            self.out / "heldout",
            self.config.heldout_images,
            self.config.variants,
            "target",
        )

    def prepare(self) -> None:
        """The held-out sets, and each one's slices from its labels (thresholds from the main set)."""
        write_textures()
        sets = self.scoring_sets()
        self.sets = sets.prepare(self.log)
        labels = {name: target_labels(sets.folder(name)) for name in self.sets}
        pixels, _ = labels["heldout"]
        small = float(np.quantile(pixels[pixels > 0], self.config.hard.small_quantile))
        self.thresholds = {"small_pixels": small, "occluded_below": self.config.hard.occluded_below}
        self.slices = {name: slice_masks(*labels[name], small, self.config.hard.occluded_below) for name in self.sets}

    def points(self) -> dict[str, Point]:
        """Each arm at each size, then ``replicates - 1`` more runs of each arm at the largest size
        (``<arm>_<size>_seed<k>``: the generator's and the training's seeds + k)."""
        todo = [(f"{arm}_{size}", arm, size, 0) for size in self.config.sizes for arm in self.arms]
        largest = self.config.sizes[-1]
        todo += [
            (f"{arm}_{largest}_seed{k}", arm, largest, k) for k in range(1, self.config.replicates) for arm in self.arms
        ]
        result = {}
        for name, arm, size, k in todo:
            generator, training = replicate(
                {**self.ablation.generator, "randomization": self.arms[arm]}, self.training, k
            )
            trained = {"generator": generator, "images": size, "training": training}
            settings = {
                "trained": trained,
                "heldout": self.scoring_sets().generators(),
                "hard": self.config.hard.model_dump(),
            }
            result[name] = Point(name, settings, arm, {"trained": trained, "replicate": k})
        return result

    def score(self, net: Any, scaler: Any, name: str, data: Any) -> dict[str, Any]:
        """``evaluate_model``'s subsets plus the slices (``SLICES``) of the set ``name``, and per-image errors."""
        from dr_sim.policies.pose_net import predict_xy  # needs torch (extra: train)
        from dr_sim.policies.pose_training import error_stats, score

        predicted = predict_xy(net, scaler, data.images)
        result = score(predicted, data.xy, data.distractors, data.target_pixels > 0)
        errors = np.linalg.norm(predicted[:, :2] - data.xy[:, :2], axis=1)
        result["slices"] = {key: error_stats(errors[mask]) for key, mask in self.slices[name].items()}
        result["errors_cm"] = np.round(100.0 * errors, 4).tolist()  # per image, for the paired interval
        return result

    def compute(self, point: Point, folder: Path) -> dict[str, Any]:
        trained = point.extra["trained"]
        log = lambda line: self.log(f"{point.name}: {line}")  # noqa: E731
        fit, run = train_cached(self.cache, f"train-{point.name}", trained, self.ablation.workers, log)
        scores = score_point(run, self.sets, self.score)
        return {
            "arm": point.group,
            "images": trained["images"],
            "replicate": point.extra["replicate"],
            **fit,
            "scores": scores,
        }

    def camera_spreads(self) -> dict[str, list[float]]:
        """The camera range (u, v px; ``dr_sim.camera_spread``) of each arm's largest training set and of
        each held-out set: the arms should match, so that they differ in context and not in camera range."""
        grid = self.config.camera_spread
        if grid is None:
            return {}
        world = grid_points(grid.low, grid.high, grid.count)
        points = self.points()
        largest = self.config.sizes[-1]
        roots = {
            arm: self.cache.folder(f"train-{arm}_{largest}", points[f"{arm}_{largest}"].extra["trained"]) / "data"
            for arm in self.arms
        }
        sets = self.scoring_sets()
        roots.update({name: sets.folder(name) for name in self.sets})
        spreads = {}
        for name, root in roots.items():
            if root.is_dir():
                cameras = ((label["camera"]["K"], label["camera"]["pose"]) for label in read_labels(root))
                spreads[name] = [round(float(value), 2) for value in image_spread(cameras, world)]
        return spreads

    def hard_interval(self, uniform: dict[str, Any], structured: dict[str, Any]) -> list[float]:
        """A paired bootstrap 95% interval of the pooled hard slice's uniform / structured mean-error ratio:
        the same hard images are resampled for both arms."""
        pairs = [
            np.concatenate([np.asarray(s["errors_cm"])[self.slices[name]["hard"]] for name, s in r["scores"].items()])
            for r in (uniform, structured)
        ]
        return list(paired_ratio_interval(*pairs))

    def report(self, results: dict[str, dict[str, Any]]) -> Report:
        largest = self.config.sizes[-1]
        variants = list(self.config.variants)
        columns = [
            "point",
            "held-out all",
            "object only",
            "with distractors",
            *(f"{v} all" for v in variants),
            *(f"pooled {key}" for key in SLICES),
            "sim val",
        ]
        main = Table("", columns)
        for name, r in results.items():
            subsets = r["scores"]["heldout"]["subsets"]
            cells = [cm_cell(subsets[key]["mean_cm"]) for key in ("all", "object_only", "with_distractors")]
            cells += [cm_cell(r["scores"][v]["subsets"]["all"]["mean_cm"]) for v in variants]
            cells += [f"{cm_cell(pooled_slice(r, key)['mean_cm'])} (n={pooled_slice(r, key)['n']})" for key in SLICES]
            main.rows.append([name, *cells, cm_cell(r["val_mean_cm"])])
        sizes = Table("Slice sizes per held-out set:", ["set", *SLICES])
        sizes.rows += [[where, *(str(int(m[key].sum())) for key in SLICES)] for where, m in self.slices.items()]
        tables = [main, sizes]
        spreads = self.camera_spreads()
        if spreads:
            table = Table(
                "Camera range: pixel standard deviation of a grid of table points over each set (u, v):", list(spreads)
            )
            table.rows.append([f"{u:.2f}, {v:.2f}" for u, v in spreads.values()])
            tables.append(table)
        runs: dict[str, dict[str, float | None]] = {}
        for label, suffix in [("main", ""), *((f"seed{k}", f"_seed{k}") for k in range(1, self.config.replicates))]:
            pair = results.get(f"uniform_{largest}{suffix}"), results.get(f"structured_{largest}{suffix}")
            if pair[0] and pair[1]:
                runs[label] = error_ratios(*pair)
        goals: list[Goal] = []
        interval = None
        if "main" in runs:
            table = Table(
                "Error ratio uniform / structured at the largest size (above 1: structured is better):",
                ["run", "all", *SLICES],
            )
            table.rows += [[run, *(cm_cell(v) for v in ratios.values())] for run, ratios in runs.items()]
            tables.append(table)
            interval = self.hard_interval(results[f"uniform_{largest}"], results[f"structured_{largest}"])
            hard = runs["main"]["hard"]
            met = None if hard is None else hard > 1 and interval[0] > 1
            goals.append(
                Goal(
                    f"SDR beats uniform on the hard slice (ratio > 1 beyond the paired 95% interval "
                    f"[{interval[0]:.2f}, {interval[1]:.2f}])",
                    hard,
                    met,
                )
            )
        threshold = self.thresholds
        intro = (
            f"Training images per arm: {', '.join(map(str, self.config.sizes))}; "
            f"{self.training.get('epochs')} epochs each; replicates at the largest size: {self.config.replicates}. "
            f"Hard slice (fixed from the held-out labels): visible targets of at most "
            f"{threshold.get('small_pixels', 0):g} px, or less than {threshold.get('occluded_below', 0):g} of them "
            "visible. Mean error on the table plane, cm."
        )
        data = {
            "points": {
                name: {k: v for k, v in r.items() if k != "scores"}
                | {"pooled": {key: pooled_slice(r, key) for key in ("all", *SLICES)}}
                for name, r in results.items()
            },
            "ratios": runs,
            "hard_interval": interval,
            "camera_spread_px": spreads,
            "thresholds": threshold,
        }
        wall = sum(r["generate_s"] + r["train_s"] for r in results.values())
        return Report(
            "Structured vs uniform domain randomization (Prakash et al. 2019's shape)",
            [intro, f"Generation and training of the points: {wall / 60:.1f} min."],
            tables,
            goals,
            data,
        )

    def plots(self, report: Report, out: Path) -> None:
        """Pooled held-out error against training images per arm, one panel per slice."""
        plt = pyplot()
        keys = ("all", *SLICES)
        figure, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.6), squeeze=False)
        for axis, key in zip(axes[0], keys, strict=True):
            for arm in ARMS:
                rows = sorted(
                    (r["images"], r["pooled"][key]["mean_cm"])
                    for r in report.data["points"].values()
                    if r["arm"] == arm and not r["replicate"] and r["pooled"][key]["mean_cm"] is not None
                )
                if rows:
                    axis.plot([x for x, _ in rows], [y for _, y in rows], "o-", label=arm)
            axis.set_xscale("log")
            axis.set_xlabel("training images")
            axis.set_ylabel("mean error (cm)")
            axis.set_title(f"held-out, {key}")
            if axis.get_legend_handles_labels()[0]:
                axis.legend()
        figure.tight_layout()
        figure.savefig(out / "results.png", dpi=110)
        plt.close(figure)
