"""Unpaired adaptation toward unlabelled target images (CycleGAN + CyCADA's semantic consistency) on the
perception study's held-out look.

``python -m studies.unpaired [CONFIG] [--out DIR] [--set KEY=VALUE ...]``

The target is the perception study's held-out look (``studies/heldout``), in two disjoint parts: an
unlabelled adaptation set (the held-out generator with another ``seed``, written as plain image files,
labels dropped) and the labelled test set (the perception study's own held-out set, which no
adaptation sees). The pose network and its training settings are the perception study's (its
``canonical`` and ``full`` arms, taken from its run cache, trained there when missing). Points:

- ``randomization``: the ``full`` arm's network, untranslated (randomization only);
- ``canonical_translated`` and ``randomized_translated``: CycleGAN (``dr-sim adapt train``, method
  ``cyclegan``) trained from ``translator.sim_images`` images of that arm's generator toward the
  adaptation set, the arm's whole training set translated (``dr-sim adapt apply``: labels unchanged),
  then the pose network trained on the translation; each with the run's gap meter (AUC of translated
  sim against held-back adaptation images) and scored on the test set;
- ``randomized_translated_<k>``: the same with only ``k`` unlabelled images (``target.sizes``);
- ``rcan``: the adaptation study's cached result, read through its run cache (never computed here).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from dr_sim.config.params import StrictModel
from dr_sim.errors import ConfigError
from dr_sim.file_io import encode_png, write_atomically
from dr_sim.policies.pose_sweep import ScoringSets, render_set, score_point, train_cached
from dr_sim.run_cache import RunCache
from studies.harness import Goal, Point, Report, Study, Table, cm_cell, goal_at_most
from studies.heldout.textures import write_textures
from studies.perception.study import heldout_sets, load_ablation, points

CANONICAL, FULL = "canonical", "full"
TRANSLATED = {CANONICAL: "canonical_translated", FULL: "randomized_translated"}
GOAL_AUC = 0.75
GOAL_TRAIN_S = 30 * 60.0
RESERVED = ("method", "sim", "target", "out")


class TargetSettings(StrictModel):
    """The unlabelled adaptation set: images of the held-out look under another seed."""

    images: int = Field(default=2000, ge=20)
    seed: int = Field(default=910001, ge=0)
    sizes: list[int] = Field(default_factory=lambda: [100, 500])
    holdout: float = Field(default=0.2, gt=0, lt=1)


class UnpairedStudyConfig(StrictModel):
    """The study (see ``studies/unpaired/config.yaml`` for each key)."""

    perception: str = "../perception/config.yaml"
    perception_runs: str = "../../runs/perception"
    adaptation: str | None = "../adaptation/config.yaml"
    adaptation_runs: str = "../../runs/adaptation"
    heldout_n: int | None = Field(default=None, ge=1)
    images: int | None = Field(default=None, ge=1)
    training: dict[str, Any] = Field(default_factory=dict)
    target: TargetSettings = Field(default_factory=TargetSettings)
    translator: dict[str, Any] = Field(default_factory=dict)
    sim_images: int = Field(default=1000, ge=20)

    @field_validator("translator")
    @classmethod
    def _study_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        taken = [key for key in RESERVED if key in value]
        if taken:
            raise ValueError(f"the study sets {', '.join(map(repr, taken))} of the translator itself; remove it")
        return value


class UnpairedStudy(Study):
    """Randomization alone, canonical or randomized sim translated toward the target, and RCAN."""

    name = "unpaired"
    config_model = UnpairedStudyConfig
    config: UnpairedStudyConfig

    def __init__(self, config: UnpairedStudyConfig, folder: Path, out: Path | None = None, log: Any = None) -> None:
        super().__init__(config, folder, out, log)
        self.perception, self.perception_folder = load_ablation(self.path(config.perception))
        arms = points(self.perception, [])
        missing = [name for name in (CANONICAL, FULL) if name not in arms]
        if missing:
            raise ConfigError(f"{config.perception}: the perception study has no arm {missing[0]!r}")
        self.trained = {
            name: {
                "generator": {**self.perception.generator, "randomization": arms[name]["randomization"]},
                "images": config.images or self.perception.images,
                "training": {**self.perception.training, **config.training},
            }
            for name in (CANONICAL, FULL)
        }
        runs = self.path(config.perception_runs)
        self.networks = RunCache(runs / "points")
        self.heldout_root = runs / "heldout"

    # -- data -------------------------------------------------------------------------------------------
    def scoring_sets(self) -> ScoringSets:
        """The labelled test set: the perception study's held-out set (no variants)."""
        return heldout_sets(self.perception, self.perception_folder, self.heldout_root, self.config.heldout_n, {})

    def adaptation_generator(self) -> dict[str, Any]:
        """The held-out look's generator with the adaptation seed (disjoint states from the test set)."""
        base = self.scoring_sets().generators()[ScoringSets.MAIN]["generator"]
        if base.get("seed") == self.config.target.seed:
            raise ConfigError("target.seed is the test set's seed: the adaptation images must be other images")
        return {**base, "seed": self.config.target.seed}

    def adaptation_folder(self, count: int) -> Path:
        """The first ``count`` unlabelled adaptation images as PNG files (rendered once, cached)."""
        settings = {"generator": self.adaptation_generator(), "n": self.config.target.images}
        data = RunCache(self.out / "target").folder("adaptation", settings)
        if not (data / "images" / "done").is_file():
            render_set(settings["generator"], data / "data", self.config.target.images)
            from dr_sim.gap.images import read_dataset

            images, _ = read_dataset(data / "data", self.config.target.images)
            for i, image in enumerate(images):
                write_atomically(data / "images" / f"{i:05d}.png", encode_png(image))
            (data / "images" / "done").write_text("")
        if count == self.config.target.images:
            return data / "images"
        subset = data / f"first{count}"
        if not subset.is_dir():
            for i in range(count):
                write_atomically(subset / f"{i:05d}.png", (data / "images" / f"{i:05d}.png").read_bytes())
        return subset

    # -- points -----------------------------------------------------------------------------------------
    def translator_config(self, arm: str, images: int, folder: Path) -> dict[str, Any]:
        """The ``dr-sim adapt train`` config of one translated point (``target.path`` filled in later)."""
        target = self.config.target
        sim = {**self.trained[arm]["generator"], "seed": self.trained[arm]["generator"].get("seed", 0) + 7}
        return {
            **self.config.translator,
            "method": "cyclegan",
            "sim": {"generator": sim, "n": self.config.sim_images, "out": str(folder / "sim")},
            "target": {"path": f"adaptation images: first {images}", "holdout": target.holdout},
            "out": str(folder / "cyclegan"),
        }

    def points(self) -> dict[str, Point]:
        common = {"test": self.scoring_sets().generators(), "adaptation": self.adaptation_generator()}
        result = {"randomization": Point("randomization", {**common, "network": self.trained[FULL]}, "baseline")}
        sizes = sorted({*self.config.target.sizes, self.config.target.images})
        for arm, name in TRANSLATED.items():
            for k in sizes if arm == FULL else [self.config.target.images]:
                point = name if k == self.config.target.images else f"{name}_{k}"
                settings = {
                    **common,
                    "network": self.trained[arm],
                    "translator": self.translator_config(arm, k, Path("OUT")),
                    "target_images": k,
                    "target_pool": self.config.target.images,
                }
                result[point] = Point(point, settings, "translated", {"arm": arm, "images": k})
        return result

    def network(self, name: str) -> Path:
        """The perception study's trained ``name`` arm (trained into its cache when missing)."""
        log = lambda line: self.log(f"{name}: {line}")  # noqa: E731
        return train_cached(self.networks, f"train-{name}", self.trained[name], self.perception.workers, log)[1]

    def compute(self, point: Point, folder: Path) -> dict[str, Any]:
        from dr_sim.adapt.apply import apply_folder  # needs torch (extra: train)
        from dr_sim.adapt.run import METRICS_FILE, train
        from dr_sim.policies.pose_training import METRICS_FILE as POSE_METRICS
        from dr_sim.policies.pose_training import train as train_pose

        write_textures()
        test = self.scoring_sets().prepare(self.log)
        if point.name == "randomization":
            return {"scores": score_point(self.network(FULL), test)}
        arm, images = point.extra["arm"], point.extra["images"]
        network = self.network(arm)  # its training set is what gets translated
        config = self.translator_config(arm, images, folder)
        config["target"]["path"] = str(self.adaptation_folder(images))
        self.log(f"{point.name}: CycleGAN toward {images} unlabelled images")
        run = train(config, lambda line: self.log(f"{point.name}: {line}"))
        metrics = json.loads((run / METRICS_FILE).read_text())
        translated = folder / "translated"
        if not (translated / "dataset.json").is_file():
            apply_folder(run, network / "data", translated)  # a data set in: its translated copy out
        training = self.trained[arm]["training"]
        pose = train_pose(  # into FOLDER/run, where score_point reads it
            {**training, "kind": "pose", "data": {"path": str(translated)}, "out": str(folder / "run")},
            lambda line: self.log(f"{point.name}: {line}"),
        )
        pose_metrics = json.loads((pose / POSE_METRICS).read_text())
        cyclegan = {key: metrics[key] for key in ("train_seconds", "images_per_s", "gap", "consistency", "threads")}
        return {
            "scores": score_point(folder, test),
            "cyclegan": cyclegan,
            "pose_train_s": pose_metrics["train_seconds"],
        }

    def rcan(self) -> dict[str, Any] | None:
        """The adaptation study's result, if its run cache holds it (never computed here)."""
        if self.config.adaptation is None:
            return None
        from dr_sim.config.loader import read_source, validated
        from studies.adaptation.study import AdaptationStudy, AdaptStudyConfig

        data, origin, folder = read_source(self.path(self.config.adaptation), "adaptation study config")
        study = AdaptationStudy(
            validated(AdaptStudyConfig, data, origin), folder, self.path(self.config.adaptation_runs)
        )
        point = study.points()["adaptation"]
        return study.cache.cached(point.name, point.settings)

    # -- report -----------------------------------------------------------------------------------------
    def report(self, results: dict[str, dict[str, Any]]) -> Report:
        def mean(result: dict[str, Any] | None) -> float | None:
            return None if result is None else result["scores"]["heldout"]["subsets"]["all"]["mean_cm"]

        rcan = self.rcan()
        rows = Table(
            "Pose error on the labelled test set (held-out look), mean on the table plane, cm; gap meter AUC of "
            "translated sim against held-back adaptation images (before -> after translation):",
            ["pipeline", "unlabelled images", "mean error, cm", "AUC before", "AUC after", "translator, min"],
        )
        rows.rows.append(["randomization only", "0", cm_cell(mean(results.get("randomization"))), "", "", ""])
        for name, result in results.items():
            if name == "randomization":
                continue
            gap = result["cyclegan"].get("gap") or {}
            rows.rows.append(
                [
                    name.replace("_", " "),
                    str(self.points()[name].extra["images"]),
                    cm_cell(mean(result)),
                    f"{gap['before']['auc']:.3f}" if gap else "",
                    f"{gap['after']['auc']:.3f}" if gap else "",
                    f"{result['cyclegan']['train_seconds'] / 60:.1f}",
                ]
            )
        rcan_mean = None
        if rcan is not None:
            rcan_mean = rcan["scores"]["rcan+canonical"]["heldout"]["subsets"]["all"]["mean_cm"]
            rows.rows.append(
                [
                    "RCAN, then the canonical network (adaptation study)",
                    "0 (paired renders)",
                    cm_cell(rcan_mean),
                    "",
                    "",
                    "",
                ]
            )
        goals = []
        baseline = mean(results.get("randomization"))
        best = results.get(TRANSLATED[FULL])
        if best is not None and baseline is not None:
            after = (best["cyclegan"].get("gap") or {}).get("after", {}).get("auc")
            if after is not None:
                goals.append(goal_at_most("AUC of translated sim against target images", after, GOAL_AUC))
            value = mean(best)
            goals.append(
                Goal(
                    f"pose error below randomization alone ({baseline:.2f} cm)",
                    value,
                    value is not None and value < baseline,
                )
            )
            goals.append(
                goal_at_most(
                    "translation training within 30 min", best["cyclegan"]["train_seconds"] / 60, GOAL_TRAIN_S / 60
                )
            )
        paragraphs = [] if results else ["Not run yet."]
        return Report(
            "Unpaired adaptation toward unlabelled target images (CycleGAN + semantic consistency)",
            paragraphs,
            [rows],
            goals,
            {"results": results, "rcan_mean_cm": rcan_mean, "config": self.config.model_dump()},
        )
