"""The perception ablation of Tobin et al. 2017 (Table II) on the Localize scene, plus a texture sweep.

``python -m studies.perception [CONFIG] [--out DIR] [--only POINT ...] [--set KEY=VALUE ...]``

Every point renders its own training set from the same generator settings and seed (the same number of
images), trains the pose network (``dr_sim.policies.pose_net``) with the same budget (epochs, batch
size, learning rate, seed), and is scored on one held-out data set (``studies/heldout/``: real-photo
textures, lights and camera poses outside the training ranges, unseen distractor meshes): the mean
error in cm over all images, object-only images and images with distractors.

- Arms: randomization overlays of the base (``full``) randomization (``dr_sim.config.overlay``).
- Texture sweep: for each pool size (``max``: the largest pool whose textures fit ``memory_budget_mb``
  of renderer memory, measured) and tint on/off, every textured appearance entry of the base draws
  from a pool of that many procedural textures on every link (probability 1, no flat-colour
  fallback), with or without its random tint.

Output (``runs/perception``): ``points/`` (each trained network under its settings' hash, and its
scores), ``heldout/`` (the held-out sets), ``results.json``, ``results.md`` and ``results.png``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pybullet as p
from pydantic import Field, field_validator

from dr_sim.config.loader import read_source, validated
from dr_sim.config.overlay import overlay
from dr_sim.config.params import StrictModel
from dr_sim.config.schema import TextureConfig
from dr_sim.errors import ConfigError
from dr_sim.native_output import quiet_native_stdout
from dr_sim.policies.pose_sweep import ScoringSets, replicate, score_point, train_cached
from dr_sim.randomizers.textures import TexturePool
from studies.harness import Goal, Point, Report, Study, Table, cm_cell, goal_at_least, goal_at_most
from studies.harness.report import pyplot
from studies.heldout.textures import write_textures

FULL = "full"
TEXTURE_PROBE = 2000  # textures loaded to measure the memory of one
MAX_POOL = 100_000  # TextureConfig.pool_size's upper bound
GOAL_FULL_CM = 1.5
GOAL_RATIO = 3.0
GOAL_TRAIN_S = 20 * 60.0
SUBSETS = ("all", "object_only", "with_distractors")


class TextureSweep(StrictModel):
    """Pool sizes (``max`` for the memory-budget pool) crossed with tint on/off."""

    pool_sizes: list[int | Literal["max"]] = Field(min_length=1)
    tint: list[bool] = Field(default_factory=lambda: [True, False], min_length=1)
    memory_budget_mb: float = Field(default=256.0, gt=0)

    @field_validator("pool_sizes")
    @classmethod
    def _positive(cls, sizes: list[int | str]) -> list[int | str]:
        bad = [size for size in sizes if isinstance(size, int) and not 1 <= size <= MAX_POOL]
        if bad:
            raise ValueError(f"pool sizes must be 1..{MAX_POOL} or 'max', got {bad[0]}")
        return sizes


class HeldOutVariant(StrictModel):
    """An extra held-out set for diagnosis: the held-out generator with an overlay on its randomization."""

    n: int = Field(gt=0)
    randomization: dict[str, Any] = Field(default_factory=dict)


class HeldOut(StrictModel):
    """The held-out set: a generator config (YAML path, relative to the study's config) and its image count,
    plus ``variants`` scored beside it (the goals use the main set only). ``visibility`` overrides the
    generator's labelling of visible fractions (labels only: the images stay the same)."""

    generator: str
    n: int = Field(gt=0)
    variants: dict[str, HeldOutVariant] = Field(default_factory=dict)
    visibility: Literal["none", "target", "all"] | None = None


class StudyConfig(StrictModel):
    """The study (see ``studies/perception/config.yaml`` for each key)."""

    images: int = Field(gt=0)
    workers: int = Field(default=1, ge=1, le=64)
    generator: dict[str, Any] = Field(default_factory=dict)
    randomization: dict[str, Any]
    training: dict[str, Any] = Field(default_factory=dict)
    arms: dict[str, dict[str, Any] | None] = Field(min_length=1)
    texture_sweep: TextureSweep | None = None
    heldout: HeldOut

    @field_validator("generator")
    @classmethod
    def _no_randomization(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "randomization" in value:
            raise ValueError("set the base randomization in the top-level 'randomization', not in 'generator'")
        return value

    @field_validator("training")
    @classmethod
    def _no_data(cls, value: dict[str, Any]) -> dict[str, Any]:
        taken = [key for key in ("kind", "data", "out", "eval") if key in value]
        if taken:
            raise ValueError(f"the study sets {', '.join(map(repr, taken))} of each run itself; remove it")
        return value


# -- the points of the study ----------------------------------------------------------------------------
def sweep_randomization(base: dict[str, Any], pool_size: int, tint: bool) -> dict[str, Any]:
    """``base`` with every textured appearance entry drawing from ``pool_size`` textures on every link
    (probability 1, no colour fallback), its tint kept (``tint``) or removed."""
    result = copy.deepcopy(base)
    textured = [entry for entry in result.get("appearance", []) if entry.get("textures")]
    if not textured:
        raise ConfigError("texture_sweep: the base randomization has no appearance entry with 'textures'")
    for entry in textured:
        entry["textures"] = {**entry["textures"], "pool_size": pool_size, "probability": 1.0}
        entry.pop("color", None)
        if not tint:
            entry.pop("tint", None)
        elif "tint" not in entry:
            raise ConfigError("texture_sweep: tint on needs a 'tint' in the base's textured appearance entries")
    return result


def texture_bytes(resolution: int = 64, probe: int = TEXTURE_PROBE) -> float:
    """Resident memory (bytes) one procedural texture of ``resolution`` px costs a PyBullet renderer,
    measured by loading ``probe`` textures into a fresh client."""
    with quiet_native_stdout():
        client = p.connect(p.DIRECT)
    try:
        families = {"families": ["flat", "gradient", "checker", "stripes", "noise"]}
        config = TextureConfig.model_validate({**families, "pool_size": probe, "resolution": resolution})
        pool = TexturePool(client, config)
        return max(pool.memory_bytes / probe, 1.0)
    finally:
        p.disconnect(client)


def round_down(value: float) -> int:
    """``value`` rounded down to two significant digits (13_742 -> 13_000)."""
    if value < 100:
        return max(int(value), 1)
    scale = 10 ** (int(math.log10(value)) - 1)
    return int(value // scale * scale)


def texture_resolution(randomization: dict[str, Any]) -> int:
    """The resolution (px) of the base's first textured appearance entry (64 when none says)."""
    for entry in randomization.get("appearance", []):
        if entry.get("textures"):
            return int(entry["textures"].get("resolution", 64))
    return 64


def points(config: StudyConfig, pool_sizes: list[int]) -> dict[str, dict[str, Any]]:
    """Name -> {"group": "arm" | "sweep", "randomization", and the sweep's pool_size and tint}."""
    result: dict[str, dict[str, Any]] = {}
    for name, patch in config.arms.items():
        result[name] = {"group": "arm", "randomization": overlay(config.randomization, patch or {})}
    sweep = config.texture_sweep
    for size in pool_sizes if sweep is not None else []:
        for tint in sweep.tint if sweep is not None else []:
            name = f"textures_{size}_{'tint' if tint else 'notint'}"
            randomization = sweep_randomization(config.randomization, size, tint)
            result[name] = {"group": "sweep", "randomization": randomization, "pool_size": size, "tint": tint}
    return result


def load_ablation(path: Path) -> tuple[StudyConfig, Path]:
    """A perception study config read as data by the studies built on it (SDR, adaptation): (the validated
    config, the folder its relative paths start from)."""
    data, origin, folder = read_source(path, "perception study config")
    return validated(StudyConfig, data, origin), folder


def heldout_sets(
    config: StudyConfig,
    folder: Path,
    root: Path,
    n: int | None = None,
    variants: Mapping[str, HeldOutVariant] | None = None,
    visibility: str | None = None,
) -> ScoringSets:
    """The config's held-out set (``n`` images, default the config's) and its variants (default the
    config's), rendered into ``root``; ``visibility`` overrides the config's labelling."""
    spec = config.heldout
    chosen = spec.variants if variants is None else variants
    return ScoringSets(
        folder / spec.generator,
        n or spec.n,
        root,
        {name: (variant.n, variant.randomization) for name, variant in chosen.items()},
        visibility or spec.visibility,
    )


# -- running ------------------------------------------------------------------------------------------
class PerceptionStudy(Study):
    """Arms and texture sweep: each point trains the pose network and is scored on the held-out sets."""

    name = "perception"
    config_model = StudyConfig

    def __init__(self, config: StudyConfig, folder: Path, out: Path | None = None, log: Any = None) -> None:
        super().__init__(config, folder, out, log)
        self.sets: dict[str, Any] = {}

    def scoring_sets(self) -> ScoringSets:
        """The held-out set and its variants, rendered into ``OUT/heldout``."""
        return heldout_sets(self.config, self.folder, self.out / "heldout")

    def prepare(self) -> None:
        """Write the held-out photo textures, then render (or complete) and load the held-out sets."""
        write_textures()
        self.sets = self.scoring_sets().prepare(self.log)

    # The points.
    def pool_sizes(self) -> list[int]:
        """The sweep's concrete pool sizes (``max`` measured once and cached)."""
        sweep = self.config.texture_sweep
        if sweep is None:
            return []
        if "max" not in sweep.pool_sizes:
            return [int(size) for size in sweep.pool_sizes]
        resolution = texture_resolution(self.config.randomization)
        measured, _ = self.cache.run(
            "texture_memory",
            {"resolution": resolution, "probe": TEXTURE_PROBE},
            lambda folder: {"bytes": texture_bytes(resolution)},
        )
        largest = min(MAX_POOL, round_down(sweep.memory_budget_mb * 1e6 / measured["bytes"]))
        return [largest if size == "max" else int(size) for size in sweep.pool_sizes]

    def training_settings(self, randomization: dict[str, Any], images: int | None = None, k: int = 0) -> dict:
        """What a trained network depends on: generator (randomization included), images and training keys."""
        generator, training = replicate(
            {**self.config.generator, "randomization": randomization}, self.config.training, k
        )
        return {"generator": generator, "images": images or self.config.images, "training": training}

    def points(self) -> dict[str, Point]:
        result = {}
        for name, point in points(self.config, self.pool_sizes()).items():
            trained = self.training_settings(point["randomization"])
            extra = {key: value for key, value in point.items() if key not in ("group", "randomization")}
            result[name] = self.scored_point(name, point["group"], trained, extra)
        return result

    def scored_point(self, name: str, group: str, trained: dict[str, Any], extra: dict[str, Any]) -> Point:
        """A point whose result is its network's scores on the held-out sets: its settings are the
        training's and the held-out generators', so a new variant re-scores without retraining."""
        settings = {"trained": trained, "heldout": self.scoring_sets().generators()}
        return Point(name, settings, group, {**extra, "trained": trained})

    def score(self, net: Any, scaler: Any, name: str, data: Any) -> dict[str, Any]:
        """A network's scores on the held-out set ``name`` (``evaluate_model``'s subsets)."""
        from dr_sim.policies.pose_training import evaluate_model  # needs torch (extra: train)

        return evaluate_model(net, scaler, data)

    def compute(self, point: Point, folder: Path) -> dict[str, Any]:
        trained = point.extra["trained"]
        log = lambda line: self.log(f"{point.name}: {line}")  # noqa: E731
        fit, run = train_cached(self.cache, f"train-{point.name}", trained, self.config.workers, log)
        scores = score_point(run, self.sets, self.score)
        heldout = scores.pop("heldout")
        self.log(f"{point.name}: held-out {cm_cell(heldout['subsets']['all']['mean_cm'])} cm")
        extra = {key: value for key, value in point.extra.items() if key != "trained"}
        return {
            "group": point.group,
            **extra,
            **fit,
            "images": trained["images"],
            "heldout": heldout,
            "variants": scores,
        }

    # The report.
    def report(self, results: dict[str, dict[str, Any]]) -> Report:
        settings = self.config
        training = settings.training
        intro = (
            f"Each point: {settings.images} training images, {training.get('epochs', '?')} epochs, seed "
            f"{training.get('seed', 0)}; scored on {settings.heldout.n} held-out images. Mean error on the "
            "table plane, cm (median in parentheses)."
        )
        main = Table(
            "",
            ["point", "all", "object only", "with distractors", "sim val", "generate s", "train s", "train images/s"],
        )
        for name, result in results.items():
            subsets = result["heldout"]["subsets"]
            cells = [f"{cm_cell(subsets[k]['mean_cm'])} ({cm_cell(subsets[k]['median_cm'])})" for k in SUBSETS]
            main.rows.append(
                [
                    name,
                    *cells,
                    cm_cell(result["val_mean_cm"]),
                    f"{result['generate_s']:.0f}",
                    f"{result['train_s']:.0f}",
                    f"{result['images_per_s']:.0f}",
                ]
            )
        tables = [main]
        for where, variant in settings.heldout.variants.items():
            table = Table(
                f"Held-out variant `{where}` ({variant.n} images), mean error, cm:",
                ["point", "all", "object only", "with distractors"],
            )
            table.rows += [[name, *(cm_cell(mean(r, k, where)) for k in SUBSETS)] for name, r in results.items()]
            tables.append(table)
        sets = ["heldout", *settings.heldout.variants]
        ratios = {where: shape(results, where) for where in sets}
        table = Table("Error ratios arm / full (Table II's shape):", ["ratio", *sets])
        for ratio in ratios["heldout"]:
            table.rows.append([ratio, *("-" if ratios[w][ratio] is None else f"{ratios[w][ratio]:.2f}" for w in sets)])
        tables.append(table)
        wall = sum(r["generate_s"] + r["train_s"] for r in results.values())
        return Report(
            "Perception ablation (Tobin et al. 2017, Table II shape)",
            [intro, f"Generation and training of the points: {wall / 60:.1f} min."],
            tables,
            goals(results),
            {"points": results, "shape": ratios, "settings": settings.model_dump(mode="json")},
        )

    def plots(self, report: Report, out: Path) -> None:
        plot(report.data["points"], ["heldout", *self.config.heldout.variants], out / "results.png")


def mean(result: dict[str, Any] | None, subset: str, where: str = "heldout") -> float | None:
    """A point's mean error (cm) on ``subset`` of the held-out set (``heldout``) or a variant."""
    if result is None:
        return None
    scores = result.get("heldout") if where == "heldout" else result.get("variants", {}).get(where)
    return None if scores is None else scores["subsets"][subset]["mean_cm"]


#: Table II's shape: (arm, subset) whose error is divided by the full arm's on the same subset.
SHAPE = (
    ("canonical", "all"),
    ("no_textures", "all"),
    ("no_camera", "all"),
    ("no_distractors", "with_distractors"),
    ("no_noise", "all"),
)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    return None if numerator is None or not denominator else numerator / denominator


def shape(results: Mapping[str, dict[str, Any]], where: str = "heldout") -> dict[str, float | None]:
    """Error ratios arm / full (``SHAPE``) on the held-out set or a variant."""
    full = results.get(FULL)
    return {
        f"{arm} / full ({subset})": ratio(mean(results.get(arm), subset, where), mean(full, subset, where))
        for arm, subset in SHAPE
    }


def goals(results: Mapping[str, dict[str, Any]]) -> list[Goal]:
    """The study's goals on the held-out set (not judged when an arm is missing)."""
    full = results.get(FULL)
    return [
        goal_at_most("full randomization, held-out mean error <= 1.5 cm", mean(full, "all"), GOAL_FULL_CM),
        goal_at_least(
            "canonical / full (all) >= 3", ratio(mean(results.get("canonical"), "all"), mean(full, "all")), GOAL_RATIO
        ),
        goal_at_least(
            "no_distractors / full (with distractors) >= 3",
            ratio(mean(results.get("no_distractors"), "with_distractors"), mean(full, "with_distractors")),
            GOAL_RATIO,
        ),
        goal_at_most("full arm trains within 1200 s", None if full is None else full["train_s"], GOAL_TRAIN_S),
    ]


def plot(results: dict[str, dict[str, Any]], sets: list[str], path: Path) -> Path:
    """Bars of the arms per subset on each held-out set, and the sweep's error against pool size."""
    plt = pyplot()
    figure, axes = plt.subplots(1, len(sets) + 1, figsize=(6 * (len(sets) + 1), 4.5), squeeze=False)
    arms = [name for name, r in results.items() if r["group"] == "arm"]
    width = 0.8 / len(SUBSETS)
    for axis, where in zip(axes[0], sets, strict=False):
        for k, subset in enumerate(SUBSETS):
            values = [mean(results[name], subset, where) or 0.0 for name in arms]
            axis.bar(np.arange(len(arms)) + k * width, values, width, label=subset.replace("_", " "))
        axis.set_xticks(np.arange(len(arms)) + width, arms, rotation=30, ha="right")
        axis.set_ylabel("mean error (cm)")
        axis.set_title(f"arms on {where}")
        axis.legend()
    axis = axes[0][-1]
    sweep = [r for r in results.values() if r["group"] == "sweep"]
    for tint in (True, False):
        rows = sorted((r["pool_size"], mean(r, "all")) for r in sweep if r["tint"] == tint)
        if rows:
            axis.plot([x for x, _ in rows], [y for _, y in rows], "o-", label="tint" if tint else "no tint")
    if FULL in results:
        axis.axhline(mean(results[FULL], "all") or 0.0, color="gray", linestyle="--", label=FULL)
    axis.set_xscale("log")
    axis.set_xlabel("unique training textures")
    axis.set_ylabel("held-out mean error, all images (cm)")
    axis.set_title("texture sweep (held-out)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
