"""Object detection from synthetic images (Tremblay et al. 2018) on dr_sim/Detect-v0.

``python -m studies.detection [CONFIG] [--out DIR] [--only POINT ...] [--set KEY=VALUE ...]``

Every arm renders the same number of training images of the Detect scene (``scene``: 1-6 objects of
four classes that hide one another, a backdrop) under its own randomization and trains the same detector
(``kind: detect``, a CenterNet trained from scratch on the CPU) with the same budget. Each detector is
scored with COCO box AP (bootstrap intervals over images) on one held-out look that no arm trains on
(``heldout``: held-out photographs, lights, distractor meshes and camera placements):

- **arms** (points named after them): (a) ``randomized``, Tremblay's randomization with flying
  distractors; (b) ``realistic``, photographs as textures, one plausible light, no distractors, the
  nominal camera; (c) ``structured``, the structured randomization of Prakash et al. 2019;
- **fine-tuning curve** (``finetune_<N>``, ``scratch_<N>``): the first N images of a labelled pool of
  the held-out look (another seed than the scored set) fine-tune (a)'s detector (``init_from``), against
  the same detector trained on the same N images alone, both for ``few_shot.steps`` optimizer steps;
  N = 0 is (a)'s detector as it is.

Output (``runs/detection``): ``points/`` (each detector under the hash of its settings, its training
images, its scores and, for an arm, its detection sheet), ``sets/`` (the scored set and the labelled
pool), ``results.json``, ``results.md``, ``fewshot.png`` and ``detections_<arm>.png`` (the first scored
images with their true and detected boxes).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from dr_sim.config.loader import PRESETS, load_model, preset_dict, read_yaml_mapping
from dr_sim.config.params import StrictModel
from dr_sim.datasets.config import load_generator_config
from dr_sim.policies.pose_sweep import generator_dict, render_set
from studies.detection.textures import write_textures as write_training_textures
from studies.harness import Goal, Point, Report, Study, Table, goal_at_least, goal_at_most
from studies.harness.networks import training_record
from studies.harness.report import pyplot
from studies.heldout.textures import write_textures as write_heldout_textures

RANDOMIZED, REALISTIC = "randomized", "realistic"  # the arms the goals compare; (d) fine-tunes the first
STUDY_KEYS = ("kind", "data", "out", "eval", "init_from")  # set by the study for each detector
TEST = "heldout"  # the scored set
SHEET = "detections_heldout.png"  # an arm's sheet in its point folder
GOAL_GAIN_POINTS = 5.0  # AP points that pretraining + N must add to N alone
GOAL_TRAIN_MIN = 30.0
SIZE_COLUMNS = (("ap", "AP"), ("ap50", "AP50"), ("ap75", "AP75"))
AREA_COLUMNS = (("ap_small", "AP small"), ("ap_medium", "AP medium"), ("ap_large", "AP large"))


class HeldOut(StrictModel):
    """The scored set: a randomization (YAML, relative to the study's config), its image count and seed."""

    randomization: str
    n: int = Field(gt=0)
    seed: int = Field(default=900101, ge=0)


class FewShot(StrictModel):
    """The fine-tuning curve: N labelled held-out-look images, (a) fine-tuned against N alone."""

    sizes: list[int] = Field(min_length=1)
    goal_images: int = Field(default=100, gt=0)
    seed: int = Field(default=900201, ge=0)
    steps: int = Field(default=500, gt=0)
    finetune: dict[str, Any] = Field(default_factory=dict)
    scratch: dict[str, Any] = Field(default_factory=dict)

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, sizes: list[int]) -> list[int]:
        if any(size < 0 or size == 1 for size in sizes) or len(set(sizes)) < len(sizes):
            raise ValueError(f"sizes are distinct image counts, 0 or >= 2 (training needs 2), got {sizes}")
        return sizes

    @field_validator("finetune", "scratch")
    @classmethod
    def _training(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _no_study_keys(value)

    @model_validator(mode="after")
    def _goal_measured(self) -> FewShot:
        if self.goal_images not in self.sizes:
            raise ValueError(f"goal_images {self.goal_images} is not one of sizes {self.sizes}")
        return self


class StudyConfig(StrictModel):
    """The study (see ``studies/detection/config.yaml`` for each key)."""

    scene: str = "../../launch/configs/detect_generator.yaml"
    generator: dict[str, Any] = Field(default_factory=dict)
    workers: int = Field(default=1, ge=1, le=64)
    images: int = Field(gt=1)
    arms: dict[str, str] = Field(min_length=1)
    training: dict[str, Any] = Field(default_factory=dict)
    heldout: HeldOut
    few_shot: FewShot | None = None

    @field_validator("training")
    @classmethod
    def _training(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _no_study_keys(value)

    @field_validator("generator")
    @classmethod
    def _generator(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "randomization" in value:
            raise ValueError("each set has its own randomization (arms, heldout): remove generator.randomization")
        return value

    @model_validator(mode="after")
    def _compared_arms(self) -> StudyConfig:
        missing = [name for name in (RANDOMIZED, REALISTIC) if name not in self.arms]
        if missing:
            raise ValueError(f"arms must include {' and '.join(map(repr, missing))}: the goals compare (a) and (b)")
        taken = [name for name in self.arms if name.startswith(("finetune_", "scratch_"))]
        if taken:
            raise ValueError(f"arm {taken[0]!r}: names starting finetune_ or scratch_ are the curve's points")
        return self


def _no_study_keys(value: dict[str, Any]) -> dict[str, Any]:
    taken = [key for key in STUDY_KEYS if key in value]
    if taken:
        raise ValueError(f"the study sets {', '.join(map(repr, taken))} of each detector itself; remove it")
    return value


def epochs_for_steps(steps: int, images: int, batch_size: int) -> int:
    """Epochs that give at least ``steps`` optimizer steps on ``images`` images (a batch is at most all)."""
    batches = max(images // min(batch_size, images), 1)
    return max(math.ceil(steps / batches), 1)


# -- the study ------------------------------------------------------------------------------------------
class DetectionStudy(Study):
    """Three training looks scored on a held-out look, and the fine-tuning curve."""

    name = "detection"
    config_model = StudyConfig
    config: StudyConfig

    # The sets.
    def randomization(self, source: str) -> dict[str, Any]:
        """A randomization as a mapping: a preset's, or a YAML file's (relative to the study's config)."""
        return preset_dict(source) if source in PRESETS else read_yaml_mapping(self.path(source), "randomization")

    def generator(self, randomization: Mapping[str, Any], seed: int | None = None) -> dict[str, Any]:
        """The scene's generator with the study's generator keys, ``randomization`` and ``seed`` (if given)."""
        generator = {**generator_dict(self.path(self.config.scene)), **self.config.generator}
        generator["randomization"] = dict(randomization)
        return generator if seed is None else {**generator, "seed": seed}

    def sets(self) -> dict[str, dict[str, Any]]:
        """Name -> ``{"generator", "n"}`` of the scored set and of each labelled pool subset ``pool_<N>``."""
        spec = self.config.heldout
        look = self.randomization(spec.randomization)
        result = {TEST: {"generator": self.generator(look, spec.seed), "n": spec.n}}
        few = self.config.few_shot
        if few is not None:
            for size in sorted(set(few.sizes) - {0}):
                result[f"pool_{size}"] = {"generator": self.generator(look, few.seed), "n": size}
        return result

    def set_folder(self, name: str) -> Path:
        return self.out / "sets" / name

    def prepare(self) -> None:
        """Write both photo texture sets, check every detector's config, then render (or complete) the
        scored set and the labelled pool."""
        write_training_textures()
        write_heldout_textures()
        self.check()
        for name, spec in self.sets().items():
            seconds = render_set(spec["generator"], self.set_folder(name), spec["n"], self.config.workers)
            self.log(f"set {name}: {spec['n']} images ({seconds:.0f} s)")

    def check(self) -> None:
        """One ``ConfigError`` for a bad generator or training key before anything is rendered or trained."""
        from dr_sim.policies.detector_training import DetectTrainConfig  # needs torch (extra: train)

        for point in self.points().values():
            trained = point.settings["trained"]
            if "generator" in trained:
                load_generator_config(trained["generator"])
            keys = {**trained["training"], "kind": "detect", "data": {"path": "."}, "out": "."}
            load_model(DetectTrainConfig, keys, f"training keys of point {point.name}")

    # The detectors.
    def arm_trained(self, arm: str) -> dict[str, Any]:
        """Arm ``arm``'s detector: its generator, image count and training keys."""
        generator = self.generator(self.randomization(self.config.arms[arm]))
        return {"generator": generator, "images": self.config.images, "training": dict(self.config.training)}

    def few_shot_trained(self, kind: str, size: int) -> dict[str, Any]:
        """A detector of the curve: the first ``size`` images of the pool, ``few_shot.steps`` optimizer
        steps, started from (a)'s detector (``finetune``) or from the seed's weights (``scratch``)."""
        few = self.config.few_shot
        assert few is not None
        training = {**self.config.training, **(few.finetune if kind == "finetune" else few.scratch)}
        training["val_fraction"] = 0.0
        training["epochs"] = epochs_for_steps(few.steps, size, int(training.get("batch_size", 32)))
        labelled = f"pool_{size}"
        trained = {"labelled": {"set": labelled, **self.sets()[labelled]}, "training": training}
        if kind == "finetune":
            trained["init"] = self.arm_trained(RANDOMIZED)
        return trained

    def train_cached(self, name: str, trained: Mapping[str, Any], log: Any) -> tuple[dict[str, Any], Path]:
        """A detector of ``trained`` through the cache: (its training figures, its run folder).
        ``generator`` and ``images``: rendered into the detector's folder; ``labelled``: a study set;
        ``init``: the settings of (a)'s detector, whose weights it starts from (trained first if missing)."""
        from dr_sim.policies.detector_training import METRICS_FILE, train_detector  # needs torch (extra: train)

        def compute(folder: Path) -> dict[str, Any]:
            config = {**trained["training"], "kind": "detect", "out": str(folder / "run")}
            if "labelled" in trained:
                config["data"] = {"path": str(self.set_folder(trained["labelled"]["set"]))}
            else:
                data = {"generator": trained["generator"], "n": trained["images"], "out": str(folder / "data")}
                config["data"] = {**data, "workers": self.config.workers}
            if "init" in trained:
                config["init_from"] = str(self.train_cached(f"train-{RANDOMIZED}", trained["init"], log)[1])
            run = train_detector(config, log)
            return training_record(run, json.loads((run / METRICS_FILE).read_text())["generate_seconds"])

        result, _ = self.cache.run(name, dict(trained), compute)
        return result, self.cache.folder(name, dict(trained)) / "run"

    # The points.
    def points(self) -> dict[str, Point]:
        scored = self.sets()[TEST]
        result = {
            arm: Point(arm, {"trained": self.arm_trained(arm), "set": scored}, "arm", {"arm": arm})
            for arm in self.config.arms
        }
        few = self.config.few_shot
        for size in sorted(few.sizes) if few is not None else []:
            for kind in ("finetune", "scratch") if size else ():
                name = f"{kind}_{size}"
                settings = {"trained": self.few_shot_trained(kind, size), "set": scored}
                result[name] = Point(name, settings, "few_shot", {"kind": kind, "n": size})
        return result

    def compute(self, point: Point, folder: Path) -> dict[str, Any]:
        from dr_sim.policies.detector_training import evaluate_detector  # needs torch (extra: train)

        log = lambda line: self.log(f"{point.name}: {line}")  # noqa: E731
        fit, run = self.train_cached(f"train-{point.name}", point.settings["trained"], log)
        sheets = {TEST: folder / SHEET} if point.group == "arm" else None
        scores = evaluate_detector(run, {TEST: self.set_folder(TEST)}, sheets=sheets)[TEST]
        log(f"AP {ap_cell(scores.ap.as_dict())} on the held-out look ({scores.images} images)")
        return {**fit, **point.extra, "scores": scores.as_dict()}

    # The report.
    def report(self, results: dict[str, dict[str, Any]]) -> Report:
        arms = [arm for arm in self.config.arms if arm in results]
        paragraphs = [
            f"One detector per arm (kind: detect, trained from scratch on the CPU), each on {self.config.images} "
            f"images of its look, scored on {self.config.heldout.n} images of the held-out look (held-out "
            "photographs, coloured and grazing lights, held-out distractor meshes, other camera placements). "
            "COCO box AP in points (x 100), bootstrap 95 % intervals over images. The realistic arm is the "
            "closest to photorealism that PyBullet's TinyRenderer gets: photographs as textures and one "
            "plausible light, but flat shading, hard shadows and no reflections.",
        ]
        if arms:
            sheets = " ".join(f"![{arm}](detections_{arm}.png)" for arm in arms)
            paragraphs.append(
                f"Detection sheets, one per arm ({', '.join(arms)}): the first held-out images, true boxes in white, "
                f"detections scoring at least the training config's score_threshold in their class colour.\n\n{sheets}"
            )
        tables = [arm_table(results, list(self.config.arms)), class_table(results, list(self.config.arms))]
        if self.config.few_shot is not None:
            tables.append(few_shot_table(results, self.config.few_shot))
            paragraphs.append("![AP against N, fine-tuned and from scratch](fewshot.png)")
        return Report(
            "Object detection from synthetic images (Tremblay et al. 2018's shape) on Detect",
            paragraphs,
            tables,
            goals(results, self.config),
            {"points": results, "settings": self.config.model_dump(mode="json")},
        )

    def plots(self, report: Report, out: Path) -> None:
        """The fine-tuning curve, and each arm's detection sheet copied beside the results."""
        points = self.points()
        for arm in self.config.arms:
            sheet = self.cache.folder(arm, points[arm].settings) / SHEET
            if sheet.is_file():
                shutil.copyfile(sheet, out / f"detections_{arm}.png")
        if self.config.few_shot is not None:
            plot_few_shot(report.data["points"], self.config.few_shot, out / "fewshot.png")


# -- report helpers ---------------------------------------------------------------------------------------
def ap_cell(estimate: Mapping[str, Any] | None) -> str:
    """``31.2 [28.0, 34.1]``: an AP estimate in points with its interval; ``n/a`` when undefined."""
    if not estimate or estimate.get("value") is None:
        return "n/a"
    interval = estimate.get("interval")
    shown = "" if interval is None else f" [{100 * interval[0]:.1f}, {100 * interval[1]:.1f}]"
    return f"{100 * estimate['value']:.1f}{shown}"


def ap_points(result: Mapping[str, Any] | None) -> float | None:
    """A point's AP (IoU 0.50:0.95) in points, ``None`` when missing or undefined."""
    value = None if result is None else result["scores"]["ap"]["value"]
    return None if value is None else 100 * value


def arm_table(results: Mapping[str, dict[str, Any]], arms: list[str]) -> Table:
    columns = [label for _, label in (*SIZE_COLUMNS, *AREA_COLUMNS)]
    table = Table(
        "**Arms** on the held-out look: COCO box AP in points [95 % interval]; sizes by COCO's areas "
        "(small < 32² px², most objects at 128 px); training on 2 torch threads:",
        ["arm", *columns, "train images", "train min", "train images/s", "render min"],
    )
    for arm in arms:
        result = results.get(arm)
        if result is None:
            continue
        scores = result["scores"]
        cells = [ap_cell(scores[key]) for key, _ in (*SIZE_COLUMNS, *AREA_COLUMNS)]
        table.rows.append([arm, *cells, *training_cells(result), f"{result['generate_s'] / 60:.1f}"])
    return table


def training_cells(result: Mapping[str, Any]) -> list[str]:
    """Training images, minutes and images/s of a point's detector."""
    return [str(result["train_images"]), f"{result['train_s'] / 60:.1f}", f"{result['images_per_s']:.0f}"]


def class_table(results: Mapping[str, dict[str, Any]], arms: list[str]) -> Table:
    shown = [arm for arm in arms if arm in results]
    classes = list(results[shown[0]]["scores"]["per_class"]) if shown else []
    table = Table("AP of each class on the held-out look, points [95 % interval]:", ["arm", *classes])
    for arm in shown:
        per_class = results[arm]["scores"]["per_class"]
        table.rows.append([arm, *[ap_cell(per_class[name]) for name in classes]])
    return table


def few_shot_curve(results: Mapping[str, dict[str, Any]], few: FewShot) -> list[tuple[int, Any, Any]]:
    """(N, fine-tuned result, from-scratch result) per N; N = 0 fine-tuned is (a)'s detector."""
    return [
        (size, results.get(f"finetune_{size}" if size else RANDOMIZED), results.get(f"scratch_{size}"))
        for size in sorted(few.sizes)
    ]


def few_shot_table(results: Mapping[str, dict[str, Any]], few: FewShot) -> Table:
    table = Table(
        f"**Fine-tuning** (NVIDIA 2018's shape): the first N labelled held-out-look images of the pool; "
        f"(a) fine-tuned on them against the same detector trained on them alone, {few.steps} optimizer steps "
        "each; AP in points [95 % interval] on the held-out look:",
        [
            "N",
            "(a) + N: AP",
            "(a) + N: AP50",
            "N alone: AP",
            "N alone: AP50",
            "difference",
            "train min (a) + N / alone",
        ],
    )
    for size, tuned, scratch in few_shot_curve(results, few):
        cells = []
        for result in (tuned, scratch):
            scores = None if result is None else result["scores"]
            cells += ["-" if scores is None else ap_cell(scores[key]) for key in ("ap", "ap50")]
        a, b = ap_points(tuned), ap_points(scratch)
        difference = "-" if a is None or b is None else f"{a - b:+.1f}"
        minutes = " / ".join(f"{r['train_s'] / 60:.1f}" for r in (tuned, scratch) if r is not None and size)
        table.rows.append([str(size), *cells, difference, minutes or "-"])
    return table


def goals(results: Mapping[str, dict[str, Any]], config: StudyConfig) -> list[Goal]:
    """The issue's goals (not judged when a point is missing)."""
    randomized, realistic = ap_points(results.get(RANDOMIZED)), ap_points(results.get(REALISTIC))
    gap = None if randomized is None or realistic is None else randomized - realistic
    found = [goal_at_least("(a) randomized reaches the AP of (b) realistic on the held-out look (AP points)", gap, 0.0)]
    few = config.few_shot
    if few is not None:
        n = few.goal_images
        tuned, scratch = ap_points(results.get(f"finetune_{n}")), ap_points(results.get(f"scratch_{n}"))
        gain = None if tuned is None or scratch is None else tuned - scratch
        found.append(
            goal_at_least(
                f"(d) randomized pretraining + {n} target images beats {n} alone by >= {GOAL_GAIN_POINTS:g} AP points",
                gain,
                GOAL_GAIN_POINTS,
            )
        )
    slowest = max((result["train_s"] for result in results.values()), default=None)
    found.append(
        goal_at_most(
            f"each detector trains within {GOAL_TRAIN_MIN:g} min on 2 cores (slowest, min)",
            None if slowest is None else slowest / 60,
            GOAL_TRAIN_MIN,
        )
    )
    return found


def plot_few_shot(results: Mapping[str, dict[str, Any]], few: FewShot, path: Path) -> Path:
    """AP (points, with intervals) against N, fine-tuned from (a) and from scratch."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(6.5, 4.2))
    curve = few_shot_curve(results, few)
    series = {
        "(a) randomized + N": [(n, tuned) for n, tuned, _ in curve],
        "N alone": [(n, alone) for n, _, alone in curve],
    }
    for label, points in series.items():
        rows = [(n, result["scores"]["ap"]) for n, result in points if result is not None]
        rows = [(n, ap) for n, ap in rows if ap["value"] is not None]
        if not rows:
            continue
        values = [100 * ap["value"] for _, ap in rows]
        bounds = [[100 * bound for bound in ap["interval"] or [ap["value"]] * 2] for _, ap in rows]
        bars = [
            [v - b[0] for v, b in zip(values, bounds, strict=True)],
            [b[1] - v for v, b in zip(values, bounds, strict=True)],
        ]
        axis.errorbar([n for n, _ in rows], values, yerr=bars, fmt="o-", capsize=3, label=label)
    sizes = sorted(few.sizes)
    axis.set_xscale("symlog", linthresh=max(min((n for n in sizes if n), default=1), 1))
    axis.set_xticks(sizes, [str(n) for n in sizes])
    axis.set_ylim(bottom=0.0)
    axis.set_xlabel("labelled held-out-look images N")
    axis.set_ylabel("COCO box AP (points), held-out look")
    axis.set_title("Fine-tuning a randomized detector against training on N alone")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
