"""Points of a pose-network sweep: render a training set, train the pose network, score it on held-out sets.

A point is plain data: generator settings (``dr_sim.datasets`` keys, randomization included), an image
count and training keys (``dr_sim.policies.pose_training``, without ``kind``, ``data`` and ``out``).
``train_point`` renders the set into ``FOLDER/data`` (resuming shard by shard) and trains into
``FOLDER/run``; ``score_point`` scores the trained network on labelled data sets. ``replicate`` gives
the k-th replicate of a point: other images and other initial weights, the same settings otherwise.

    generator = {"env": "dr_sim/Localize-v0", "image_size": 64, "randomization": "visual"}
    result = train_point(generator, 2000, {"epochs": 5}, Path("runs/mine/full"))
    scores = score_point(Path("runs/mine/full"), {"heldout": load_pose_data("runs/heldout")})
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dr_sim.config.loader import PRESETS, preset_dict, read_yaml_mapping
from dr_sim.config.overlay import overlay
from dr_sim.datasets.generate import generate
from dr_sim.run_cache import RunCache

Log = Callable[[str], None]
DATA, RUN = "data", "run"
STUDY_KEYS = ("kind", "data", "out", "eval")  # set by the sweep for every point, never by its training keys


def replicate(generator: Mapping[str, Any], training: Mapping[str, Any], k: int) -> tuple[dict, dict]:
    """The k-th replicate's (generator, training): both seeds + k (k = 0: unchanged)."""
    generator, training = dict(generator), dict(training)
    if k:
        generator["seed"] = generator.get("seed", 0) + k
        training["seed"] = training.get("seed", 0) + k
    return generator, training


def render_set(generator: Mapping[str, Any] | str, root: Path, count: int, workers: int = 1) -> float:
    """Render (or complete) ``count`` images of ``generator`` into ``root``; the seconds it took."""
    start = time.perf_counter()
    generate(
        dict(generator) if isinstance(generator, Mapping) else generator, root, count, workers=workers, progress=False
    )
    return time.perf_counter() - start


def train_point(
    generator: Mapping[str, Any],
    images: int,
    training: Mapping[str, Any],
    folder: Path,
    workers: int = 1,
    log: Log | None = None,
) -> dict[str, Any]:
    """Render ``images`` training images into ``folder/data`` and train the pose network into ``folder/run``.

    Returns ``{"val_mean_cm", "generate_s", "train_s", "images_per_s"}``."""
    from dr_sim.policies.pose_training import METRICS_FILE, train  # needs torch (extra: train)

    taken = [key for key in STUDY_KEYS if key in training]
    if taken:
        raise ValueError(f"training keys {taken} are set by the sweep for every point")
    log = log or (lambda line: None)
    log(f"generating {images} images")
    generate_s = render_set(generator, folder / DATA, images, workers)
    log(f"generated in {generate_s:.0f} s; training")
    run = train({**training, "kind": "pose", "data": {"path": str(folder / DATA)}, "out": str(folder / RUN)}, log)
    metrics = json.loads((run / METRICS_FILE).read_text())
    return {
        "val_mean_cm": (metrics.get("val") or {}).get("subsets", {}).get("all", {}).get("mean_cm"),
        "generate_s": generate_s,
        "train_s": metrics["train_seconds"],
        "images_per_s": metrics["images_per_s"],
    }


def train_cached(
    cache: RunCache, name: str, trained: Mapping[str, Any], workers: int = 1, log: Log | None = None
) -> tuple[dict[str, Any], Path]:
    """``train_point`` of ``trained`` (``{"generator", "images", "training"}``) through ``cache``, which keeps
    it under the hash of those settings: (its result, its folder). A finished point is read back."""
    result, _ = cache.run(
        name,
        trained,
        lambda folder: train_point(trained["generator"], trained["images"], trained["training"], folder, workers, log),
    )
    return result, cache.folder(name, trained)


def score_point(
    folder: Path, sets: Mapping[str, Any], scorer: Callable[[Any, Any, str, Any], dict[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """The trained network of ``folder/run`` scored on each labelled set (name -> ``PoseData``).

    ``scorer(net, scaler, name, data)`` defaults to ``pose_training.evaluate_model`` (mean error in cm
    over all images, object-only images and images with distractors)."""
    from dr_sim.policies.pose_net import load_checkpoint  # needs torch (extra: train)
    from dr_sim.policies.pose_training import MODEL_FILE, evaluate_model

    net, scaler, _ = load_checkpoint(folder / RUN / MODEL_FILE)
    score = scorer or (lambda net, scaler, name, data: evaluate_model(net, scaler, data))
    return {name: score(net, scaler, name, data) for name, data in sets.items()}


def generator_dict(path: str | Path) -> dict[str, Any]:
    """A generator config (YAML) as a dict whose randomization is a mapping (a preset expanded, a relative
    randomization path read from the config's folder), ready for an ``overlay``."""
    data = read_yaml_mapping(path, "generator config")
    randomization = data.get("randomization", "visual")
    if isinstance(randomization, str):
        file = Path(randomization)
        if randomization in PRESETS:
            randomization = preset_dict(randomization)
        else:
            randomization = read_yaml_mapping(file if file.is_absolute() else Path(path).parent / file, "randomization")
    return {**data, "randomization": randomization}


class ScoringSets:
    """The labelled sets a sweep's points are scored on: a main set rendered from a generator config, and
    variants whose randomization is an ``overlay`` on the main set's. ``visibility`` overrides the
    generator's labelling of visible fractions (labels only: the images stay the same)."""

    MAIN = "heldout"

    def __init__(
        self,
        generator: str | Path,
        n: int,
        root: Path,
        variants: Mapping[str, tuple[int, Mapping[str, Any]]] | None = None,
        visibility: str | None = None,
    ) -> None:
        self.generator, self.n, self.root = Path(generator), n, Path(root)
        self.variants = dict(variants or {})
        self.visibility = visibility
        self.data: dict[str, Any] = {}

    def generators(self) -> dict[str, dict[str, Any]]:
        """Name -> (generator config, image count) of the main set and each variant, as plain data."""
        base = generator_dict(self.generator)
        labels = {} if self.visibility is None else {"visibility": self.visibility}
        result = {self.MAIN: {"generator": {**base, **labels}, "n": self.n}}
        for name, (count, patch) in self.variants.items():
            randomization = overlay(base["randomization"], dict(patch))
            result[name] = {"generator": {**base, "randomization": randomization, **labels}, "n": count}
        return result

    def folder(self, name: str) -> Path:
        """The data set folder of set ``name``."""
        return self.root / ("data" if name == self.MAIN else name)

    def prepare(self, log: Log | None = None) -> dict[str, Any]:
        """Render (or complete) every set and load it (name -> ``PoseData``)."""
        from dr_sim.policies.pose_training import load_pose_data  # needs torch (extra: train)

        for name, spec in self.generators().items():
            seconds = render_set(spec["generator"], self.folder(name), spec["n"])
            if log:
                log(f"scoring set {name}: {spec['n']} images ({seconds:.0f} s)")
            self.data[name] = load_pose_data(self.folder(name))
        return self.data
