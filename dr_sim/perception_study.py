"""The perception ablation of Tobin et al. 2017 (Table II) on the Localize scene, plus a texture sweep.

``python -m dr_sim.perception_study launch/perception_ablation.yaml [--out DIR] [--only NAME ...]``

Every point of the study renders its own training set from the same generator settings and seed (the
same number of images), trains the pose network (``dr_sim.policies.pose_net``) with the same budget
(epochs, batch size, learning rate, seed), and is scored on one held-out data set
(``launch/heldout/``: real-photo textures, lights and camera poses outside the training ranges,
unseen distractor meshes): the mean error in cm over all images, object-only images and images with
distractors.

- Arms: randomization overlays of the base (``full``) randomization, merged key by key; ``null``
  deletes a key, lists and randomized parameters (``{type: ...}``) are replaced whole.
- Texture sweep: for each pool size (``max``: the largest pool whose textures fit
  ``memory_budget_mb`` of renderer memory, measured) and tint on/off, every textured appearance
  entry of the base draws from a pool of that many procedural textures on every link (probability 1,
  no flat-colour fallback), with or without its random tint.

Output (``out``): ``points/NAME/{data,run,result.json}``, ``heldout/data``, ``plan.json`` (the sweep's
pool sizes), and ``results.json``, ``results.md`` (tables in cm, goals, wall times) and
``results.png``. Rerunning resumes: points whose ``result.json`` exists are skipped (a point run with
other settings is an error), partial data sets resume shard by shard.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from dr_sim.config.loader import read_source, read_yaml_mapping, validated
from dr_sim.config.params import StrictModel
from dr_sim.errors import ConfigError

FULL = "full"
RESULT_FILE = "result.json"
TEXTURE_PROBE = 2000  # textures loaded to measure the memory of one
MAX_POOL = 100_000  # TextureConfig.pool_size's upper bound
GOAL_FULL_CM = 1.5
GOAL_RATIO = 3.0
GOAL_TRAIN_S = 20 * 60.0


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
    """The held-out set: a generator config (YAML path), its image count and the photo folder, plus
    ``variants`` scored beside it (the goals use the main set only). ``visibility`` overrides the
    generator's labelling of visible fractions (labels only: the images stay the same)."""

    generator: str
    n: int = Field(gt=0)
    textures: str = "out/heldout_textures"
    variants: dict[str, HeldOutVariant] = Field(default_factory=dict)
    visibility: Literal["none", "target", "all"] | None = None


class StudyConfig(StrictModel):
    """The study (see ``launch/perception_ablation.yaml`` for each key)."""

    out: str = "runs/perception_study"
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


def load_study(source: str | Path | Mapping[str, Any]) -> StudyConfig:
    """A validated ``StudyConfig`` from a YAML path or a mapping; one ``ConfigError`` when bad."""
    data, origin, _ = read_source(source, "study config")
    return validated(StudyConfig, data, origin)


# -- the points of the study ----------------------------------------------------------------------------
def overlay(base: Any, patch: Any) -> Any:
    """``base`` with ``patch`` merged in: mappings key by key (a ``None`` value deletes the key), any
    other value replaces: lists, and randomized parameters (mappings with a ``type``) as a whole."""
    if not isinstance(base, dict) or not isinstance(patch, dict) or "type" in patch:
        return copy.deepcopy(patch)
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = overlay(merged.get(key), value)
    return merged


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
    import pybullet as p

    from dr_sim.config.schema import TextureConfig
    from dr_sim.native_output import quiet_native_stdout
    from dr_sim.randomizers.textures import TexturePool

    with quiet_native_stdout():
        client = p.connect(p.DIRECT)
    try:
        families = {"families": ["flat", "gradient", "checker", "stripes", "noise"]}
        config = TextureConfig.model_validate({**families, "pool_size": probe, "resolution": resolution})
        pool = TexturePool(client, config)
        return max(pool.memory_bytes / probe, 1.0)
    finally:
        p.disconnect(client)


def _round_down(value: float) -> int:
    """``value`` rounded down to two significant digits (13_742 -> 13_000)."""
    if value < 100:
        return max(int(value), 1)
    scale = 10 ** (int(math.log10(value)) - 1)
    return int(value // scale * scale)


def plan(config: StudyConfig, out: Path, log: Any) -> dict[str, Any]:
    """The sweep's concrete pool sizes (``max`` resolved once, then read from ``plan.json``)."""
    path = out / "plan.json"
    if path.is_file():
        return json.loads(path.read_text())
    result: dict[str, Any] = {"pool_sizes": []}
    if config.texture_sweep is not None:
        sweep = config.texture_sweep
        if "max" in sweep.pool_sizes:
            per_texture = texture_bytes(_texture_resolution(config.randomization))
            largest = min(MAX_POOL, _round_down(sweep.memory_budget_mb * 1e6 / per_texture))
            result.update(texture_bytes=per_texture, memory_budget_mb=sweep.memory_budget_mb, max_pool=largest)
            log(f"one texture costs {per_texture / 1e3:.1f} kB: {sweep.memory_budget_mb:g} MB hold {largest} textures")
        result["pool_sizes"] = [result["max_pool"] if size == "max" else size for size in sweep.pool_sizes]
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    return result


def _texture_resolution(randomization: dict[str, Any]) -> int:
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


def heldout_generator(path: str | Path) -> dict[str, Any]:
    """The held-out generator config (YAML) as a dict whose randomization is a mapping (a relative
    randomization path is read from the config's folder), ready for an overlay."""
    from dr_sim.config.loader import PRESETS, preset_dict

    data = read_yaml_mapping(path, "held-out generator config")
    randomization = data.get("randomization", "visual")
    if isinstance(randomization, str):
        file = Path(randomization)
        if randomization in PRESETS:
            randomization = preset_dict(randomization)
        else:
            randomization = read_yaml_mapping(file if file.is_absolute() else Path(path).parent / file, "randomization")
    return {**data, "randomization": randomization}


# -- running ------------------------------------------------------------------------------------------
class Study:
    """Runs the points of a study config into its output folder (see the module docstring)."""

    def __init__(self, config: StudyConfig, out: str | Path | None = None) -> None:
        self.config = config
        self.out = Path(out if out is not None else config.out)
        self.start = time.perf_counter()

    def log(self, line: str) -> None:
        print(f"[{time.perf_counter() - self.start:7.0f} s] {line}", file=sys.stderr, flush=True)

    def heldout(self) -> dict[str, Any]:
        """The held-out data sets (``PoseData``): ``heldout`` and each variant, generated on first use."""
        from dr_sim.heldout import write_textures

        spec = self.config.heldout
        write_textures(spec.textures)
        labels = {} if spec.visibility is None else {"visibility": spec.visibility}
        main: str | dict[str, Any] = {**heldout_generator(spec.generator), **labels} if labels else spec.generator
        sets = {"heldout": self._heldout_set(self.heldout_root("heldout"), main, spec.n)}
        if spec.variants:
            base = heldout_generator(spec.generator)
            for name, variant in spec.variants.items():
                randomization = overlay(base["randomization"], variant.randomization)
                generator = {**base, "randomization": randomization, **labels}
                sets[name] = self._heldout_set(self.heldout_root(name), generator, variant.n)
        return sets

    def heldout_root(self, name: str) -> Path:
        """The folder of the held-out set ``name`` (``heldout`` or a variant's name)."""
        return self.out / "heldout" / ("data" if name == "heldout" else name)

    def _heldout_set(self, root: Path, generator: str | dict[str, Any], count: int) -> Any:
        from dr_sim.datasets.generate import generate
        from dr_sim.policies.pose_training import load_pose_data

        start = time.perf_counter()
        if generate(generator, root, count, progress=False)["rendered"]:
            self.log(f"{root}: {count} images in {time.perf_counter() - start:.0f} s")
        return load_pose_data(root)

    def spec(self, point: dict[str, Any]) -> dict[str, Any]:
        """What a point's result depends on (compared on resume). A point's ``replicate`` k > 0 adds k to
        the generator's and the training's seeds: other images and other initial weights, same settings."""
        generator = {**self.config.generator, "randomization": point["randomization"]}
        training = self.config.training
        replicate = point.get("replicate", 0)
        if replicate:
            generator["seed"] = generator.get("seed", 0) + replicate
            training = {**training, "seed": training.get("seed", 0) + replicate}
        images = point.get("images", self.config.images)
        return {"generator": generator, "images": images, "training": training}

    def score(self, net: Any, scaler: Any, name: str, data: Any) -> dict[str, Any]:
        """A model's scores on the held-out set ``name`` (``PoseData``): ``evaluate_model``'s subsets."""
        from dr_sim.policies.pose_training import evaluate_model

        return evaluate_model(net, scaler, data)

    def run_point(self, name: str, point: dict[str, Any], heldout: dict[str, Any]) -> dict[str, Any]:
        """Generate, train and score one point, or read its result when it is done (scoring only the
        held-out variants it lacks)."""
        folder = self.out / "points" / name
        spec = self.spec(point)
        result_path = folder / RESULT_FILE
        if result_path.is_file():
            result = json.loads(result_path.read_text())
            if result.get("spec") != spec:
                raise ConfigError(
                    f"{result_path} was made with other settings; delete {folder} or use another --out "
                    f"to rerun {name!r}"
                )
            scored = f" ({result['heldout']['subsets']['all']['mean_cm']:.2f} cm)" if "heldout" in result else ""
            self.log(f"{name}: done already{scored}")
        else:
            result = self._train_point(name, point, spec, folder)
        missing = [key for key in heldout if key != "heldout" and key not in result.get("variants", {})]
        if "heldout" not in result or missing:
            from dr_sim.policies.pose_net import load_checkpoint

            start = time.perf_counter()
            net, scaler, _ = load_checkpoint(folder / "run" / "model.pt")
            if "heldout" not in result:
                result["heldout"] = self.score(net, scaler, "heldout", heldout["heldout"])
            variants = result.setdefault("variants", {})
            for key in missing:
                variants[key] = self.score(net, scaler, key, heldout[key])
            result["evaluate_s"] = result.get("evaluate_s", 0.0) + time.perf_counter() - start
            result_path.write_text(json.dumps(result, indent=1) + "\n")
            subsets = result["heldout"]["subsets"]
            self.log(
                f"{name}: held-out {subsets['all']['mean_cm']:.2f} cm (object only "
                f"{_cm(subsets['object_only']['mean_cm'])}, with distractors "
                f"{_cm(subsets['with_distractors']['mean_cm'])})"
            )
        return result

    def _train_point(self, name: str, point: dict[str, Any], spec: dict[str, Any], folder: Path) -> dict[str, Any]:
        """Generate a point's training set and train its model; the result without scores."""
        from dr_sim.datasets.generate import generate
        from dr_sim.policies.pose_training import METRICS_FILE, train

        self.log(f"{name}: generating {spec['images']} images")
        start = time.perf_counter()
        generate(spec["generator"], folder / "data", spec["images"], workers=self.config.workers, progress=False)
        generate_s = time.perf_counter() - start
        self.log(f"{name}: generated in {generate_s:.0f} s; training")
        run = train(
            {
                **spec["training"],
                "kind": "pose",
                "data": {"path": str(folder / "data")},
                "out": str(folder / "run"),
            },
            lambda line: self.log(f"{name}: {line}"),
        )
        metrics = json.loads((run / METRICS_FILE).read_text())
        return {
            "name": name,
            **{key: value for key, value in point.items() if key != "randomization"},
            "spec": spec,
            "val_mean_cm": (metrics.get("val") or {}).get("subsets", {}).get("all", {}).get("mean_cm"),
            "generate_s": generate_s,
            "train_s": metrics["train_seconds"],
            "images_per_s": metrics["images_per_s"],
        }

    def points(self) -> dict[str, dict[str, Any]]:
        """The study's points (see ``points``), the sweep's pool sizes planned first."""
        return points(self.config, plan(self.config, self.out, self.log)["pool_sizes"])

    def summarize(self, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The results of the points as one JSON-friendly dict (``summarize``)."""
        return summarize(results, self.config, plan(self.config, self.out, self.log)["pool_sizes"])

    def write_report(self, summary: dict[str, Any]) -> None:
        """``results.json``, ``results.md`` and ``results.png`` in the output folder (``write_report``)."""
        write_report(summary, self.out)

    def run(self, only: list[str] | None = None) -> dict[str, Any]:
        """Run every point (or those named in ``only``), then write the results; returns them."""
        todo = self.points()
        unknown = [name for name in only or [] if name not in todo]
        if unknown:
            raise ConfigError(f"--only {unknown[0]!r} is not a point of this study; points: {', '.join(todo)}")
        heldout = self.heldout()
        results = {}
        for name, point in todo.items():
            if only and name not in only:
                continue
            results[name] = self.run_point(name, point, heldout)
        summary = self.summarize(results)
        self.write_report(summary)
        self.log(f"wrote {self.out / 'results.md'}")
        return summary


# -- the report ---------------------------------------------------------------------------------------
def _cm(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _scores(result: dict[str, Any], where: str) -> dict[str, Any] | None:
    """A point's scores on the held-out set (``heldout``) or on a variant."""
    return result.get("heldout") if where == "heldout" else result.get("variants", {}).get(where)


def _mean(result: dict[str, Any] | None, subset: str, where: str = "heldout") -> float | None:
    scores = None if result is None else _scores(result, where)
    return None if scores is None else scores["subsets"][subset]["mean_cm"]


#: Table II's shape: (arm, subset) whose error is divided by the full arm's on the same subset.
SHAPE = (
    ("canonical", "all"),
    ("no_textures", "all"),
    ("no_camera", "all"),
    ("no_distractors", "with_distractors"),
    ("no_noise", "all"),
)


def shape(results: Mapping[str, dict[str, Any]], where: str = "heldout") -> dict[str, float | None]:
    """Error ratios arm / full (``SHAPE``) on the held-out set or a variant."""
    full = results.get(FULL)
    return {
        f"{arm} / full ({subset})": _ratio(_mean(results.get(arm), subset, where), _mean(full, subset, where))
        for arm, subset in SHAPE
    }


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return None if numerator is None or not denominator else numerator / denominator


def goals(results: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The issue's goals, each ``{"value", "goal", "met"}`` (``met`` None when an arm is missing)."""
    full = results.get(FULL)
    canonical_ratio = _ratio(_mean(results.get("canonical"), "all"), _mean(full, "all"))
    distractor_ratio = _ratio(_mean(results.get("no_distractors"), "with_distractors"), _mean(full, "with_distractors"))
    full_cm = _mean(full, "all")
    train_s = None if full is None else full["train_s"]

    def goal(value: float | None, target: float, higher: bool) -> dict[str, Any]:
        met = None if value is None else (value >= target if higher else value <= target)
        return {"value": value, "goal": target, "met": met}

    return {
        "full_mean_cm <= 1.5": goal(full_cm, GOAL_FULL_CM, higher=False),
        "canonical / full (all) >= 3": goal(canonical_ratio, GOAL_RATIO, higher=True),
        "no_distractors / full (with distractors) >= 3": goal(distractor_ratio, GOAL_RATIO, higher=True),
        "full training seconds <= 1200": goal(train_s, GOAL_TRAIN_S, higher=False),
    }


def summarize(results: dict[str, dict[str, Any]], config: StudyConfig, pool_sizes: list[int]) -> dict[str, Any]:
    """The results of every point, the goals and the settings, as one JSON-friendly dict."""
    return {
        "settings": {
            "images": config.images,
            "training": config.training,
            "heldout_images": config.heldout.n,
            "pool_sizes": pool_sizes,
        },
        "points": {
            name: {key: value for key, value in result.items() if key != "spec"} for name, result in results.items()
        },
        "goals": goals(results),
        "shape": {where: shape(results, where) for where in ["heldout", *config.heldout.variants]},
        "variants": {name: variant.n for name, variant in config.heldout.variants.items()},
        "wall_s": sum(r["generate_s"] + r["train_s"] + r["evaluate_s"] for r in results.values()),
    }


def markdown(summary: dict[str, Any]) -> str:
    """The report: arms and sweep tables (mean error, cm, on the held-out set), goals, wall times."""
    settings = summary["settings"]
    training = settings["training"]
    lines = [
        "# Perception ablation (Tobin et al. 2017, Table II shape)",
        "",
        f"Each point: {settings['images']} training images, {training.get('epochs', '?')} epochs, "
        f"seed {training.get('seed', 0)}; scored on {settings['heldout_images']} held-out images. "
        "Mean error on the table plane, cm (median in parentheses).",
        "",
        "| point | all | object only | with distractors | sim val | generate s | train s | train images/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, result in summary["points"].items():
        subsets = result["heldout"]["subsets"]
        cells = [
            f"{_cm(subsets[key]['mean_cm'])} ({_cm(subsets[key]['median_cm'])})"
            for key in ("all", "object_only", "with_distractors")
        ]
        lines.append(
            f"| {name} | {' | '.join(cells)} | {_cm(result['val_mean_cm'])} | {result['generate_s']:.0f} | "
            f"{result['train_s']:.0f} | {result['images_per_s']:.0f} |"
        )
    for where, count in summary.get("variants", {}).items():
        lines += [
            "",
            f"Held-out variant `{where}` ({count} images), mean error, cm:",
            "",
            "| point | all | object only | with distractors |",
            "|---|---|---|---|",
        ]
        for name, result in summary["points"].items():
            means = [_cm(_mean(result, key, where)) for key in ("all", "object_only", "with_distractors")]
            lines.append(f"| {name} | {' | '.join(means)} |")
    sets = list(summary.get("shape", {}))
    if sets:
        lines += ["", "Error ratios arm / full (Table II's shape):", ""]
        lines += ["| ratio | " + " | ".join(sets) + " |", "|---|" + "---|" * len(sets)]
        for ratio in summary["shape"][sets[0]]:
            values = [summary["shape"][where][ratio] for where in sets]
            lines.append(f"| {ratio} | " + " | ".join("-" if v is None else f"{v:.2f}" for v in values) + " |")
    lines += ["", "| goal (held-out set) | value | met |", "|---|---|---|"]
    for name, goal in summary["goals"].items():
        value = "-" if goal["value"] is None else f"{goal['value']:.2f}"
        met = {True: "yes", False: "no", None: "-"}[goal["met"]]
        lines.append(f"| {name} | {value} | {met} |")
    lines += ["", f"Wall time of the points: {summary['wall_s'] / 60:.1f} min.", ""]
    return "\n".join(lines)


def plot(summary: dict[str, Any], path: Path) -> Path | None:
    """Bars of the arms per subset on the held-out set and each variant, and the sweep's error against
    pool size with and without tint (PNG); ``None`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    results = summary["points"]
    sets = ["heldout", *summary.get("variants", {})]
    figure, axes = plt.subplots(1, len(sets) + 1, figsize=(6 * (len(sets) + 1), 4.5), squeeze=False)
    for axis, where in zip(axes[0], sets, strict=False):
        _arm_bars(axis, results, where)
    _sweep_lines(axes[0][-1], results)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _arm_bars(axis: Any, results: dict[str, Any], where: str) -> None:
    arms = [name for name, r in results.items() if r["group"] == "arm"]
    subsets = ("all", "object_only", "with_distractors")
    width = 0.8 / len(subsets)
    for k, subset in enumerate(subsets):
        values = [_mean(results[name], subset, where) or 0.0 for name in arms]
        axis.bar([i + k * width for i in range(len(arms))], values, width, label=subset.replace("_", " "))
    axis.set_xticks([i + width for i in range(len(arms))], arms, rotation=30, ha="right")
    axis.set_ylabel("mean error (cm)")
    axis.set_title(f"arms on {where}")
    axis.legend()


def _sweep_lines(axis: Any, results: dict[str, Any]) -> None:
    sweep = [r for r in results.values() if r["group"] == "sweep"]
    for tint in (True, False):
        rows = sorted((r["pool_size"], _mean(r, "all")) for r in sweep if r["tint"] == tint)
        if rows:
            axis.plot([x for x, _ in rows], [y for _, y in rows], "o-", label="tint" if tint else "no tint")
    if FULL in results:
        axis.axhline(_mean(results[FULL], "all") or 0.0, color="gray", linestyle="--", label=FULL)
    axis.set_xscale("log")
    axis.set_xlabel("unique training textures")
    axis.set_ylabel("held-out mean error, all images (cm)")
    axis.set_title("texture sweep (held-out)")
    axis.legend()


def write_report(summary: dict[str, Any], out: Path) -> None:
    """``results.json``, ``results.md`` and ``results.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "results.md").write_text(markdown(summary))
    plot(summary, out / "results.png")


# -- command line -------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The study's arguments."""
    from dr_sim.arguments import positive_int

    parser.add_argument("config", metavar="CONFIG", help="study config (launch/perception_ablation.yaml)")
    parser.add_argument("--out", default=None, help="output folder (default: the config's 'out')")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME", help="run only these points")
    parser.add_argument("--images", type=positive_int, default=None, help="training images per point (pilot runs)")
    parser.add_argument("--epochs", type=positive_int, default=None, help="epochs per point (pilot runs)")


def run(args: argparse.Namespace) -> int:
    """Run the study and print the markdown report."""

    data = read_yaml_mapping(args.config, "study config")
    if args.images is not None:
        data["images"] = args.images
    if args.epochs is not None:
        data["training"] = {**(data.get("training") or {}), "epochs": args.epochs}
    summary = Study(load_study(data), args.out).run(args.only)
    print(markdown(summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m dr_sim.perception_study``: one line on stderr and exit code 2 on a bad config."""
    from dr_sim.arguments import module_main

    return module_main("dr_sim.perception_study", add_arguments, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
