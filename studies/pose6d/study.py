"""Perception a real robot can use: keypoint belief maps, PnP and the calibrated camera (issue 17).

``python -m studies.pose6d [CONFIG] [--out DIR] [--only POINT ...] [--set KEY=VALUE ...]``

The network (``dr_sim.policies.belief_net``, trained from scratch on the CPU) draws belief maps of an
object's 8 box corners and centroid; ``dr_sim.pose`` turns them into a pose with each frame's K and
puts it in the world through the camera pose a user has (the true one moved by a calibration error,
5 mm and 0.5 degrees by default). Three parts, each scored on a look no training set uses:

- **Localize** (``localize_belief``): the red cube of the perception study (``studies/perception``: its
  generator and ``full`` arm), its (x, y) from the centroid's ray cut with the table plane; scored on
  the perception study's held-out look (``studies/heldout``) with every camera offset at the edge of
  the training jitter. The perception study's direct regression (``kind: pose``, its ``full`` arm's
  settings) is scored on the same images (``localize_regression``).
- **6-DoF** (``pose_<object>``): one network per mesh object (``objects``), trained under the
  ``full``-style look with named-mesh distractors from training meshes; scored on the held-out look
  (photographs, lights, random_urdfs 900-999) with held-out named meshes and another camera placement.
  Symmetric objects are scored with ADD-S.
- **Few-shot** (``fewshot_finetune_<N>``, ``fewshot_scratch_<N>``): N labelled images of the held-out
  look (another seed than the scored images) fine-tune the randomized network of ``few_shot.object``
  (``init_from``), against the same network trained from scratch on the same N images, with the same
  number of optimizer steps; N = 0 is the randomized network itself.

Output (``runs/pose6d``): ``points/`` (each network under the hash of its settings, and its scores),
``sets/`` (the scored and the labelled target-look sets), ``results.json``, ``results.md`` and
``fewshot.png``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from dr_sim.config.overlay import overlay
from dr_sim.config.params import StrictModel
from dr_sim.policies.pose_sweep import generator_dict, render_set, train_cached
from dr_sim.pose.calibration_error import CalibrationErrorSpec
from studies.harness import Goal, Point, Report, Study, Table, cm_cell, goal_at_least, goal_at_most
from studies.harness.networks import training_record
from studies.harness.report import pyplot
from studies.heldout.textures import write_textures
from studies.perception.study import load_ablation, points

GOAL_LOCALIZE_CM = 1.5
GOAL_ACCURACY = 0.8
GOAL_TRAIN_MIN = 20.0
CAMERA = "calibrated_camera"  # what the goals use: the camera pose a user would have
STUDY_KEYS = ("kind", "data", "out", "eval", "symmetric", "symmetry_axis", "init_from")


def _no_study_keys(value: dict[str, Any]) -> dict[str, Any]:
    taken = [key for key in STUDY_KEYS if key in value]
    if taken:
        raise ValueError(f"the study sets {', '.join(map(repr, taken))} of each run itself; remove it")
    return value


class ScoredSet(StrictModel):
    """A scored set: a generator config (YAML, relative to the study's config), its image count, an
    overlay on its randomization, and (6-DoF) its seed and named-mesh distractors."""

    generator: str
    n: int = Field(gt=0)
    seed: int | None = Field(default=None, ge=0)
    distractor_meshes: list[str] = Field(default_factory=list)
    randomization: dict[str, Any] = Field(default_factory=dict)


class TrainedPart(StrictModel):
    """A part with its own network: training images, ``kind: belief`` keys, and its held-out set."""

    images: int = Field(gt=1)
    training: dict[str, Any] = Field(default_factory=dict)
    heldout: ScoredSet

    @field_validator("training")
    @classmethod
    def _training(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _no_study_keys(value)


class LocalizePart(TrainedPart):
    """The red cube through the centroid's ray."""


class Regression(StrictModel):
    """The direct regression row: the perception study's `full` arm, with ``images`` and ``training`` keys
    laid over its settings when given (a pilot's smaller budget; by default its settings, unchanged)."""

    images: int | None = Field(default=None, gt=1)
    training: dict[str, Any] = Field(default_factory=dict)


class ObjectSpec(StrictModel):
    """A 6-DoF object: Localize's ``target_*`` options, and how it is scored."""

    env_kwargs: dict[str, Any] = Field(min_length=1)
    symmetric: bool = False
    symmetry_axis: str | None = None


class PosePart(TrainedPart):
    """How every 6-DoF network is trained and scored."""

    generator: dict[str, Any] = Field(default_factory=dict)
    distractor_meshes: list[str] = Field(default_factory=list)
    distractor_mesh_count: int = Field(default=3, ge=0)
    randomization: dict[str, Any] = Field(default_factory=dict)


class FewShot(StrictModel):
    """The few-shot curve: N labelled target-look images, fine-tuned against from scratch."""

    object: str
    sizes: list[int] = Field(min_length=1)
    seed: int = Field(default=900201, ge=0)
    steps: int = Field(default=300, gt=0)
    finetune: dict[str, Any] = Field(default_factory=dict)
    scratch: dict[str, Any] = Field(default_factory=dict)

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, sizes: list[int]) -> list[int]:
        if any(size < 0 or size == 1 for size in sizes):
            raise ValueError(f"sizes are image counts 0 or >= 2, got {sizes}")
        return sizes


class StudyConfig(StrictModel):
    """The study (see ``studies/pose6d/config.yaml`` for each key)."""

    perception: str = "../perception/config.yaml"
    workers: int = Field(default=1, ge=1, le=64)
    calibration_error: CalibrationErrorSpec = Field(default_factory=CalibrationErrorSpec)
    localize: LocalizePart
    regression: Regression = Field(default_factory=Regression)
    objects: dict[str, ObjectSpec] = Field(min_length=1)
    pose: PosePart
    few_shot: FewShot | None = None

    @model_validator(mode="after")
    def _few_shot_object(self) -> StudyConfig:
        if self.few_shot is not None and self.few_shot.object not in self.objects:
            names = ", ".join(self.objects)
            raise ValueError(f"few_shot.object {self.few_shot.object!r} is not one of objects: {names}")
        return self


# -- the study ------------------------------------------------------------------------------------------
class Pose6dStudy(Study):
    """Localize through the calibrated path, 6-DoF pose of mesh objects, and the few-shot curve."""

    name = "pose6d"
    config_model = StudyConfig
    config: StudyConfig

    def __init__(self, config: StudyConfig, folder: Path, out: Path | None = None, log: Any = None) -> None:
        super().__init__(config, folder, out, log)
        self.perception, self.perception_folder = load_ablation(self.path(config.perception))
        self.full = points(self.perception, [])["full"]["randomization"]

    # The sets.
    def localize_set(self) -> dict[str, Any]:
        """The Localize scored set's generator: the held-out look, camera at the edge of its jitter."""
        spec = self.config.localize.heldout
        base = generator_dict(self.path(spec.generator))
        return {**base, "randomization": overlay(base["randomization"], spec.randomization)}

    def object_kwargs(self, name: str, meshes: list[str]) -> dict[str, Any]:
        """Localize's env kwargs of object ``name`` with the named-mesh distractors ``meshes``."""
        kwargs = dict(self.config.objects[name].env_kwargs)
        if meshes:
            kwargs.update(distractor_meshes=list(meshes), distractor_mesh_count=self.config.pose.distractor_mesh_count)
        return kwargs

    def object_set(self, name: str, seed: int | None = None) -> dict[str, Any]:
        """Object ``name``'s held-out generator (``seed``: another draw of the same look)."""
        spec, pose = self.config.pose.heldout, self.config.pose
        base = generator_dict(self.path(spec.generator))
        generator = {
            **base,
            "env_kwargs": self.object_kwargs(name, spec.distractor_meshes),
            "randomization": overlay(base["randomization"], spec.randomization),
            "image_size": pose.generator.get("image_size", base.get("image_size", 64)),
        }
        chosen = seed if seed is not None else spec.seed
        if chosen is not None:
            generator["seed"] = chosen
        return generator

    def sets(self) -> dict[str, dict[str, Any]]:
        """Name -> {"generator", "n"} of every set the study renders besides training sets."""
        result = {"localize_edge": {"generator": self.localize_set(), "n": self.config.localize.heldout.n}}
        for name in self.config.objects:
            result[f"heldout_{name}"] = {"generator": self.object_set(name), "n": self.config.pose.heldout.n}
        few = self.config.few_shot
        for size in sorted(set(few.sizes) - {0}) if few is not None else []:
            result[f"target_{few.object}_{size}"] = {"generator": self.object_set(few.object, few.seed), "n": size}
        return result

    def set_folder(self, name: str) -> Path:
        return self.out / "sets" / name

    def prepare(self) -> None:
        """Write the held-out photo textures, then render (or complete) every scored and labelled set."""
        write_textures()
        for name, spec in self.sets().items():
            seconds = render_set(spec["generator"], self.set_folder(name), spec["n"], self.config.workers)
            self.log(f"set {name}: {spec['n']} images ({seconds:.0f} s)")

    # The networks.
    def localize_trained(self) -> dict[str, Any]:
        """The Localize belief network's settings: the perception study's generator and `full` arm."""
        generator = {**self.perception.generator, "randomization": self.full}
        training = {**self.config.localize.training, "calibration_error": self.calibration()}
        return {"generator": generator, "images": self.config.localize.images, "training": training}

    def regression_trained(self) -> dict[str, Any]:
        """The perception study's `full` arm (kind: pose), with the ``regression`` keys laid over it."""
        generator = {**self.perception.generator, "randomization": self.full}
        images = self.config.regression.images or self.perception.images
        return {
            "generator": generator,
            "images": images,
            "training": {**self.perception.training, **self.config.regression.training},
        }

    def calibration(self) -> dict[str, float]:
        return self.config.calibration_error.model_dump(mode="json")

    def object_training(self, name: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The belief training keys of object ``name`` (``extra`` laid over them)."""
        spec = self.config.objects[name]
        training = {**self.config.pose.training, **(extra or {}), "calibration_error": self.calibration()}
        training["symmetric"] = spec.symmetric
        if spec.symmetry_axis is not None:
            training["symmetry_axis"] = spec.symmetry_axis
        return training

    def object_trained(self, name: str) -> dict[str, Any]:
        """Object ``name``'s randomized network: generator, images and training keys."""
        pose = self.config.pose
        generator = {
            **pose.generator,
            "env": "dr_sim/Localize-v0",
            "env_kwargs": self.object_kwargs(name, pose.distractor_meshes),
            "randomization": overlay(self.full, pose.randomization),
        }
        return {"generator": generator, "images": pose.images, "training": self.object_training(name)}

    def few_shot_trained(self, arm: str, size: int) -> dict[str, Any]:
        """A few-shot network: ``size`` labelled target-look images, ``few_shot.steps`` optimizer steps,
        started from the randomized network (``finetune``) or from the seed's weights (``scratch``)."""
        few = self.config.few_shot
        assert few is not None
        keys = few.finetune if arm == "finetune" else few.scratch
        training = self.object_training(few.object, {**keys, "val_fraction": 0.0})
        batches = max(size // min(int(training.get("batch_size", 32)), size), 1)
        training["epochs"] = max(math.ceil(few.steps / batches), 1)
        labelled = f"target_{few.object}_{size}"
        trained = {"labelled": {"set": labelled, **self.sets()[labelled]}, "training": training}
        if arm == "finetune":
            trained["init"] = self.object_trained(few.object)
        return trained

    def train_belief_cached(self, name: str, trained: Mapping[str, Any], log: Any) -> tuple[dict[str, Any], Path]:
        """A belief network of ``trained`` through the cache: (its training figures, its run folder).
        ``generator`` and ``images``: rendered into the point's folder; ``labelled``: a study set;
        ``init``: the settings of the network whose weights it starts from (trained first if missing)."""
        from dr_sim.policies.belief_training import train_belief  # needs torch (extra: train)

        def compute(folder: Path) -> dict[str, Any]:
            training = dict(trained["training"])
            if "labelled" in trained:
                data, generate_s = self.set_folder(trained["labelled"]["set"]), 0.0
            else:
                log(f"generating {trained['images']} images")
                data = folder / "data"
                generate_s = render_set(trained["generator"], data, trained["images"], self.config.workers)
            if "init" in trained:
                init = trained["init"]
                training["init_from"] = str(self.train_belief_cached(self.network_name(init), init, log)[1])
            log("training")
            config = {**training, "kind": "belief", "data": {"path": str(data)}, "out": str(folder / "run")}
            return training_record(train_belief(config, log), generate_s)

        result, _ = self.cache.run(name, dict(trained), compute)
        return result, self.cache.folder(name, dict(trained)) / "run"

    # The points.
    def points(self) -> dict[str, Point]:
        sets = self.sets()
        result = {
            "localize_belief": Point(
                "localize_belief", {"trained": self.localize_trained(), "set": sets["localize_edge"]}, "localize"
            ),
            "localize_regression": Point(
                "localize_regression", {"trained": self.regression_trained(), "set": sets["localize_edge"]}, "localize"
            ),
        }
        for name in self.config.objects:
            settings = {"trained": self.object_trained(name), "set": sets[f"heldout_{name}"]}
            result[f"pose_{name}"] = Point(f"pose_{name}", settings, "pose", {"object": name})
        few = self.config.few_shot
        for size in few.sizes if few is not None else []:
            for arm in ("finetune", "scratch"):
                if size == 0:
                    continue  # N = 0: the randomized network (pose_<object>); from scratch: nothing to train
                assert few is not None
                settings = {"trained": self.few_shot_trained(arm, size), "set": sets[f"heldout_{few.object}"]}
                name = f"fewshot_{arm}_{size}"
                result[name] = Point(name, settings, "few_shot", {"object": few.object, "arm": arm, "n": size})
        return result

    def network_name(self, trained: Mapping[str, Any], point: str = "") -> str:
        """The cache name of a belief network: ``train-<object>`` for an object's randomized network
        (shared by its point and the fine-tuned networks), else ``train-<point>``."""
        for name in self.config.objects:
            if dict(trained) == self.object_trained(name):
                return f"train-{name}"
        return f"train-{point.removeprefix('pose_') or 'network'}"

    def compute(self, point: Point, folder: Path) -> dict[str, Any]:
        log = lambda line: self.log(f"{point.name}: {line}")  # noqa: E731
        trained = point.settings["trained"]
        if point.name == "localize_regression":
            fit, run = train_cached(self.cache, "train-regression", trained, self.config.workers, log)
            return {**fit, "train_images": trained["images"], "scores": self.regression_scores(run / "run")}
        fit, run = self.train_belief_cached(self.network_name(trained, point.name), trained, log)
        scored = "localize_edge" if point.group == "localize" else f"heldout_{point.extra['object']}"
        from dr_sim.policies.belief_training import evaluate_belief  # needs torch (extra: train)

        scores = evaluate_belief(run, {scored: self.set_folder(scored)})[scored]
        self.log(f"{point.name}: {summary_line(point.group, scores)}")
        return {**fit, **{key: value for key, value in point.extra.items()}, "scores": scores}

    def regression_scores(self, run: Path) -> dict[str, Any]:
        """The direct regression's (x, y) errors on the Localize set, with a bootstrap interval."""
        import numpy as np

        from dr_sim.policies.pose_net import load_checkpoint, predict_xy  # needs torch (extra: train)
        from dr_sim.policies.pose_training import MODEL_FILE, load_pose_data
        from dr_sim.pose.metrics import summarize

        net, scaler, _ = load_checkpoint(run / MODEL_FILE)
        data = load_pose_data(self.set_folder("localize_edge"))
        visible = data.target_pixels > 0
        predicted = predict_xy(net, scaler, data.images)
        errors = np.linalg.norm(np.asarray(predicted)[:, :2] - data.xy[:, :2], axis=1)[visible]
        return {"images": len(data), "object_hidden": int((~visible).sum()), "xy_cm": summarize(errors, 0, 100.0)}

    # The report.
    def report(self, results: dict[str, dict[str, Any]]) -> Report:
        tables = [
            localize_table(results),
            pose_table(results, self.config.objects),
            few_shot_table(results, self.config),
            training_table(results),
        ]
        size = self.config.calibration_error
        intro = (
            f"Belief-map networks trained from scratch on the CPU; PnP with each frame's K; the world pose "
            f"through the camera pose a user would have: the true one moved by one calibration error of "
            f'{size.translation_m * 1000:.0f} mm and {size.rotation_deg:g} deg per scored set ("calibrated"; '
            f'"true": the exact camera pose). Intervals: bootstrap 95 % of the mean.'
        )
        return Report(
            "Pose through the calibrated camera (DOPE's shape), the red cube and mesh objects, few-shot",
            [intro],
            tables,
            goals(results, self.config),
            {"points": results, "settings": self.config.model_dump(mode="json")},
        )

    def plots(self, report: Report, out: Path) -> None:
        if self.config.few_shot is not None:
            plot_few_shot(report.data["points"], self.config, out / "fewshot.png")


# -- report helpers ---------------------------------------------------------------------------------------
def interval(stats: Mapping[str, Any] | None, scale: float = 1.0, digits: int = 2, percent: bool = False) -> str:
    """``mean [low, high]`` of a ``summarize`` result (``-`` when missing); ``percent`` shows fractions."""
    if not stats or stats.get("mean") is None:
        return "-"
    if percent:
        return f"{stats['mean']:.0%} [{stats['ci_low']:.0%}, {stats['ci_high']:.0%}]"
    mean, low, high = (stats[key] * scale for key in ("mean", "ci_low", "ci_high"))
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def headline(scores: Mapping[str, Any], camera: str = CAMERA) -> dict[str, Any] | None:
    """The accuracy of an object's headline metric (ADD, or ADD-S for a symmetric object)."""
    result = scores.get(camera) or {}
    return result.get(f"{result.get('score', 'add')}_accuracy")


def summary_line(group: str, scores: Mapping[str, Any]) -> str:
    if group == "localize":
        return f"xy {interval(scores[CAMERA]['xy_ray_cm'])} cm (calibrated camera)"
    return f"{scores[CAMERA]['score']} accuracy {interval(headline(scores), percent=True)} (calibrated camera)"


def localize_table(results: Mapping[str, dict[str, Any]]) -> Table:
    table = Table(
        "**Localize** (red cube), held-out look with the camera at the edge of its training jitter; error on the "
        "table plane, cm, mean [95 % interval] (median):",
        ["method", "camera pose", "mean cm", "median cm", "images"],
    )
    belief = results.get("localize_belief")
    if belief is not None:
        for camera, label in ((CAMERA, "calibrated"), ("true_camera", "true")):
            stats = belief["scores"][camera]["xy_ray_cm"]
            table.rows.append(
                ["belief maps: centroid ray ∩ table", label, interval(stats), cm_cell(stats["median"]), stats["n"]]
            )
    regression = results.get("localize_regression")
    if regression is not None:
        stats = regression["scores"]["xy_cm"]
        row = ["direct regression (kind: pose)", "-", interval(stats), cm_cell(stats["median"]), stats["n"]]
        table.rows.append(row)
    return table


def pose_table(results: Mapping[str, dict[str, Any]], objects: Mapping[str, ObjectSpec]) -> Table:
    table = Table(
        "**6-DoF pose** on the held-out look (photographs, lights, held-out meshes, another camera placement); "
        "accuracy at 10 % of the diameter and AUC up to 10 cm of the object's metric (ADD-S when symmetric):",
        ["object", "metric", "camera pose", "accuracy", "AUC", "t cm", "R deg", "failed", "images"],
    )
    for name, spec in objects.items():
        result = results.get(f"pose_{name}")
        if result is None:
            continue
        metric = "add_s" if spec.symmetric else "add"
        for camera, label in ((CAMERA, "calibrated"), ("true_camera", "true")):
            scores = result["scores"][camera]
            table.rows.append(
                [
                    name,
                    metric.upper().replace("_", "-"),
                    label,
                    interval(scores[f"{metric}_accuracy"], percent=True),
                    interval(scores[f"{metric}_auc"]),
                    interval(scores["translation_cm"]),
                    interval(scores["rotation_deg"], digits=1),
                    scores["translation_cm"]["failed"],
                    scores["images"],
                ]
            )
    return table


def few_shot_curve(results: Mapping[str, dict[str, Any]], config: StudyConfig) -> list[tuple[int, Any, Any]]:
    """(N, fine-tuned result, from-scratch result) per size; N = 0 fine-tuned is the randomized network."""
    few = config.few_shot
    if few is None:
        return []
    rows = []
    for size in few.sizes:
        tuned = results.get(f"pose_{few.object}") if size == 0 else results.get(f"fewshot_finetune_{size}")
        rows.append((size, tuned, None if size == 0 else results.get(f"fewshot_scratch_{size}")))
    return rows


def few_shot_table(results: Mapping[str, dict[str, Any]], config: StudyConfig) -> Table:
    few = config.few_shot
    table = Table(
        "**Few-shot** (NVIDIA 2018's shape): N labelled held-out-look images of the "
        f"{few.object if few else '-'}; randomized pretraining then fine-tuning, against the same network "
        "trained from scratch on the same N (same optimizer steps); calibrated camera, held-out set:",
        ["N", "pretrained + N: accuracy", "pretrained + N: t cm", "scratch on N: accuracy", "scratch on N: t cm"],
    )
    for size, tuned, scratch in few_shot_curve(results, config):
        cells = []
        for result in (tuned, scratch):
            scores = None if result is None else result["scores"]
            cells += [
                "-" if scores is None else interval(headline(scores), percent=True),
                "-" if scores is None else interval(scores[CAMERA]["translation_cm"]),
            ]
        table.rows.append([str(size), *cells])
    return table


def training_table(results: Mapping[str, dict[str, Any]]) -> Table:
    columns = ["network", "images", "generate s", "train min", "train images/s"]
    table = Table("Training of each point's network (torch threads as its config says):", columns)
    for name, result in results.items():
        table.rows.append(
            [
                name,
                str(result.get("train_images", result.get("images", "-"))),
                f"{result.get('generate_s', 0.0):.0f}",
                f"{result['train_s'] / 60:.1f}",
                f"{result['images_per_s']:.0f}",
            ]
        )
    return table


def goals(results: Mapping[str, dict[str, Any]], config: StudyConfig) -> list[Goal]:
    """Issue 17's goals (not judged when a point is missing)."""
    belief = results.get("localize_belief")
    found = [
        goal_at_most(
            "Localize through the calibrated path, held-out look, camera at the edge of its jitter: mean <= 1.5 cm",
            None if belief is None else belief["scores"][CAMERA]["xy_ray_cm"]["mean"],
            GOAL_LOCALIZE_CM,
        )
    ]
    for name in config.objects:
        result = results.get(f"pose_{name}")
        stats = None if result is None else headline(result["scores"])
        found.append(
            goal_at_least(
                f"{name}: ADD(-S) accuracy >= 80 % on the held-out look (fraction)",
                None if stats is None else stats["mean"],
                GOAL_ACCURACY,
            )
        )
    few = config.few_shot
    if few is not None and any(size > 0 for size in few.sizes):
        positive = sorted(size for size in few.sizes if size > 0) or [0]
        small = 10 if 10 in positive else positive[0]
        tuned, scratch = results.get(f"fewshot_finetune_{small}"), results.get(f"fewshot_scratch_{max(few.sizes)}")
        a = None if tuned is None else headline(tuned["scores"])
        b = None if scratch is None else headline(scratch["scores"])
        value = None if a is None or b is None else a["mean"] - b["mean"]
        found.append(
            Goal(
                f"pretraining + {small} images beats scratch on {max(few.sizes)} (accuracy difference, > 0)",
                value,
                None if value is None else value > 0,
            )
        )
    slowest = max((r["train_s"] for r in results.values()), default=None)
    found.append(
        goal_at_most(
            "each network trains within 20 min on 2 cores (slowest, min)",
            None if slowest is None else slowest / 60,
            GOAL_TRAIN_MIN,
        )
    )
    return found


def plot_few_shot(results: Mapping[str, dict[str, Any]], config: StudyConfig, path: Path) -> Path:
    """Accuracy and translation error against N, fine-tuned and from scratch."""
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    curve = few_shot_curve(results, config)
    for index, label in ((1, "randomized pretraining + N"), (2, "scratch on N")):
        rows = [(row[0], row[index]["scores"]) for row in curve if row[index] is not None]
        if not rows:
            continue
        sizes = [n for n, _ in rows]
        accuracy = [(headline(s) or {}).get("mean") or 0.0 for _, s in rows]
        error = [s[CAMERA]["translation_cm"]["mean"] or float("nan") for _, s in rows]
        axes[0].plot(sizes, accuracy, "o-", label=label)
        axes[1].plot(sizes, error, "o-", label=label)
    axes[0].set_ylabel("ADD(-S) accuracy at 10 % of the diameter")
    axes[1].set_ylabel("translation error (cm)")
    for axis in axes:
        axis.set_xscale("symlog", linthresh=10)
        axis.set_xlabel("labelled target-look images N")
        axis.legend()
    figure.suptitle(f"Few-shot: {config.few_shot.object if config.few_shot else ''} on the held-out look")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
