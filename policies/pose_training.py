"""Train and evaluate the pose network (``dr_sim.policies.pose_net``) on generated data sets.

``dr-sim train CONFIG`` with a YAML config of ``kind: pose``::

    kind: pose
    data:                        # the training images: an existing data set folder ...
      path: runs/data/full
    # ... or a generator config (dr_sim.datasets.config; YAML path or mapping) and a count:
    #   generator: launch/configs/some_generator.yaml
    #   n: 8000                  # images
    #   out: runs/data/full      # where to generate (default RUN/data); rerunning resumes
    #   workers: 1               # rendering processes
    eval:                        # optional: data sets scored after training (name -> data as above)
      heldout: {path: runs/data/heldout}
    epochs: 20
    batch_size: 64
    lr: 0.002                    # Adam, peak of a one-cycle schedule
    weight_decay: 0.0
    val_fraction: 0.05           # of the training images, kept aside to measure the sim error
    flip: false                  # mirror images left-right and negate y: only for scenes symmetric
                                 # about the world's x-z plane (a camera at y = 0 looking along x)
    mask_weight: 0.5             # weight of the auxiliary loss that puts keypoint 0 on the target's
                                 # pixels (its instance mask); 0: position loss only
    landmarks: []                # world points [x, y, z] (m) fixed in the scene (table corners):
                                 # keypoints 1..L learn their pixels (projected through each image's
                                 # camera), cues to the camera's pose; with flip, in mirror pairs
    landmark_weight: 0.5         # weight of that auxiliary loss
    seed: 0                      # weight init, split, shuffling and flips
    threads: 2                   # torch CPU threads
    out: runs/pose/full          # the run folder
    model: {channels: [16, 32, 32], keypoints: 16, hidden: 128}

The run folder gets ``model.pt`` (weights, target normalisation, the config) and ``metrics.json``
(per-epoch loss and validation error, wall times, training images/s, and the ``eval`` scores).

A run folder is never overwritten by another run (``check_run_folder``): training into a folder whose
``model.pt`` was trained with other settings (anything but ``out``), or that holds an RL run
(``config.yaml``), is refused with one ``ConfigError`` naming the first difference. A finished run of the
same settings (``model.pt`` and ``metrics.json``) is left as it is: training again is a no-op.

``dr-sim evaluate RUN --data DIR [--data NAME=DIR ...]`` scores a run on data sets: the error is the
distance on the table plane between the predicted and the true (x, y) of the target, in cm, over all
images, over those where no distractor is visible (``object_only``) and those with at least one
(``with_distractors``). Images where the target is not visible at all are left out and counted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from dr_sim.config.loader import read_yaml_mapping, validated
from dr_sim.config.overrides import read_with_overrides
from dr_sim.config.params import StrictModel
from dr_sim.datasets.generate import generate
from dr_sim.datasets.render_spec import RenderSpec
from dr_sim.datasets.torch_dataset import ShardDataset, target_xy
from dr_sim.errors import ConfigError
from dr_sim.policies.pose_net import (
    NetConfig,
    PoseNet,
    TargetScaler,
    heatmap_loss,
    load_checkpoint,
    mask_heatmap,
    point_heatmap,
    predict_xy,
    save_checkpoint,
)
from dr_sim.run_cache import describe_difference, differing_keys

KINDS = ("pose",)
MODEL_FILE = "model.pt"
METRICS_FILE = "metrics.json"
RL_CONFIG = "config.yaml"  # what an RL run folder holds (dr_sim.policies.rl_training)
SUBSETS = ("all", "object_only", "with_distractors")
DISTRACTOR_CATEGORY = 2  # dr_sim.datasets.shards.DISTRACTOR
Log = Callable[[str], None]


# -- the config ---------------------------------------------------------------------------------------
class DataSpec(RenderSpec):
    """A data set: an existing folder (``path``), or a generator config and ``n`` images to render."""

    workers: int = Field(default=1, ge=1, le=64)


class PoseTrainConfig(StrictModel):
    """A pose training run (see the module docstring for each key and its unit)."""

    kind: Literal["pose"]
    data: DataSpec
    eval: dict[str, DataSpec] = Field(default_factory=dict)
    epochs: int = Field(default=20, ge=1, le=10_000)
    batch_size: int = Field(default=64, ge=2, le=65_536)
    lr: float = Field(default=2e-3, gt=0, le=1)
    weight_decay: float = Field(default=0.0, ge=0)
    val_fraction: float = Field(default=0.05, ge=0, lt=1)
    flip: bool = False
    mask_weight: float = Field(default=0.5, ge=0)
    landmarks: list[list[float]] = Field(default_factory=list, max_length=64)
    landmark_weight: float = Field(default=0.5, ge=0)
    seed: int = Field(default=0, ge=0)
    threads: int = Field(default=2, ge=1, le=256)
    out: str
    model: NetConfig = Field(default_factory=NetConfig)

    @model_validator(mode="after")
    def _landmarks_fit(self) -> PoseTrainConfig:
        bad = [point for point in self.landmarks if len(point) != 3]
        if bad:
            raise ValueError(f"landmarks are world points [x, y, z] in metres, got {bad[0]}")
        if self.model.keypoints < 1 + len(self.landmarks):
            raise ValueError(
                f"model.keypoints ({self.model.keypoints}) must be at least 1 + the {len(self.landmarks)} landmarks"
            )
        return self


ConfigInput = str | Path | Mapping[str, Any] | PoseTrainConfig


def config_kind(source: str | Path | Mapping[str, Any]) -> str:
    """The ``kind`` of a training config (``pose``, ...): what ``dr-sim train`` dispatches on."""
    data = read_yaml_mapping(source) if isinstance(source, str | Path) else source
    kind = data.get("kind")
    if not isinstance(kind, str):
        raise ConfigError(f"the config needs 'kind' (one of {', '.join(KINDS)}), got {kind!r}")
    return kind


def load_train_config(source: ConfigInput) -> PoseTrainConfig:
    """A validated ``PoseTrainConfig`` from a YAML path, a mapping or a config; one ``ConfigError`` if bad."""
    if isinstance(source, PoseTrainConfig):
        return source
    origin = str(source) if isinstance(source, str | Path) else "pose config"
    data = read_yaml_mapping(source) if isinstance(source, str | Path) else dict(source)
    kind = config_kind(data)
    if kind not in KINDS:
        raise ConfigError(f"{origin}: kind {kind!r} is not supported here; allowed: {', '.join(KINDS)}")
    return validated(PoseTrainConfig, data, origin)


# -- data ---------------------------------------------------------------------------------------------
@dataclass
class PoseData:
    """Images and labels of a data set, in memory: ``images`` (N, 3, H, W) uint8, ``xy`` (N, 2) target
    position (m, world), ``distractors`` (N,) distractors visible, ``target_pixels`` (N,) visible pixels,
    ``target_mask`` (N, H, W) bool, the target's pixels, and ``landmarks_px`` (N, L, 2) the pixels
    (column, row) of fixed world points, NaN when out of view (``None`` when not loaded)."""

    images: torch.Tensor
    xy: np.ndarray
    distractors: np.ndarray
    target_pixels: np.ndarray
    target_mask: torch.Tensor | None = None
    landmarks_px: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.xy)


def load_pose_data(root: str | Path, masks: bool = False, landmarks: Sequence[Sequence[float]] = ()) -> PoseData:
    """Read a complete data set folder (``dr_sim.datasets`` format) into memory, with the target's
    masks (instance 1: the generator labels the target first) when ``masks``, and the pixels of the
    world points ``landmarks`` (m) through each image's camera."""
    dataset = ShardDataset(root)
    count = len(dataset)
    size = int(dataset.meta["image_size"])
    images = torch.empty((count, 3, size, size), dtype=torch.uint8)
    xy = np.empty((count, 2))
    distractors = np.zeros(count, dtype=np.int64)
    target_pixels = np.zeros(count, dtype=np.int64)
    target_mask = torch.zeros((count, size, size), dtype=torch.bool) if masks else None
    points = np.asarray(landmarks, dtype=np.float64).reshape(-1, 3)
    landmarks_px = np.full((count, len(points), 2), np.nan) if len(points) else None
    for i in range(count):
        sample = dataset[i]
        images[i] = torch.from_numpy(sample["rgb"]).permute(2, 0, 1)
        if target_mask is not None:
            target_mask[i] = torch.from_numpy(sample["instance"] == 1)
        if landmarks_px is not None:
            landmarks_px[i] = project(sample["labels"]["camera"], points, size)
        xy[i] = target_xy(sample)
        objects = sample["labels"]["objects"]
        target_pixels[i] = int(objects[0].get("pixels", 0))
        distractors[i] = sum(
            1 for item in objects if item.get("category") == DISTRACTOR_CATEGORY and item.get("pixels", 0) > 0
        )
    return PoseData(images, xy, distractors, target_pixels, target_mask, landmarks_px)


def project(camera: Mapping[str, Any], points: np.ndarray, size: int) -> np.ndarray:
    """Pixels (column, row) (L, 2) of world points (L, 3) (m) through a label's camera (``K``, ``pose``:
    camera-to-world, OpenCV frame); NaN for points behind the camera or outside the image."""
    k, pose = np.asarray(camera["K"]), np.asarray(camera["pose"])
    local = (points - pose[:3, 3]) @ pose[:3, :3]  # world to camera frame
    pixels = (local @ k.T)[:, :2] / local[:, 2:3]
    inside = (local[:, 2] > 0) & np.all((pixels >= 0) & (pixels < size), axis=1)
    return np.where(inside[:, None], pixels, np.nan)


def mirror_order(points: Sequence[Sequence[float]]) -> np.ndarray:
    """For each world point the index of its mirror image (y negated): what a left-right flip of the
    image makes of it; one ``ConfigError`` when a point has no mirror image in the list."""
    array = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    order = []
    for point in array:
        match = np.flatnonzero(np.all(np.abs(array - point * [1.0, -1.0, 1.0]) < 1e-9, axis=1))
        if not match.size:
            raise ConfigError(f"flip needs landmarks in mirror pairs (y negated); {point.tolist()} has none")
        order.append(int(match[0]))
    return np.array(order, dtype=np.int64)


def ensure_data(spec: DataSpec, default_out: Path, log: Log | None = None) -> tuple[Path, float]:
    """(data set folder, seconds spent rendering): ``spec.path`` as is, else the generator's images
    rendered into ``spec.out`` (default ``default_out``), resuming a partial folder."""

    def render(generator: str | dict[str, Any], n: int, out: Path) -> Mapping[str, Any]:
        return generate(generator, out, n, workers=spec.workers, progress=False)

    def describe(summary: Mapping[str, Any], out: Path, seconds: float) -> str:
        return (
            f"generated {summary['images']} images in {out} in {seconds:.0f} s ({summary['images_per_s']:.0f} images/s)"
        )

    return spec.ensure(default_out, render, describe, log)


# -- errors -------------------------------------------------------------------------------------------
def error_stats(errors_m: np.ndarray) -> dict[str, float | int | None]:
    """n, mean, median, std and 90th percentile (cm) of errors given in metres (``None`` when n = 0)."""
    cm = 100.0 * np.asarray(errors_m, dtype=np.float64)
    if cm.size == 0:
        return {"n": 0, "mean_cm": None, "median_cm": None, "std_cm": None, "p90_cm": None}
    return {
        "n": int(cm.size),
        "mean_cm": float(cm.mean()),
        "median_cm": float(np.median(cm)),
        "std_cm": float(cm.std()),
        "p90_cm": float(np.percentile(cm, 90)),
    }


def score(predicted_m: np.ndarray, true_m: np.ndarray, distractors: np.ndarray, visible: np.ndarray) -> dict[str, Any]:
    """Errors (cm) on the table plane per subset (``SUBSETS``) of the images where ``visible``."""
    errors = np.linalg.norm(np.asarray(predicted_m)[:, :2] - np.asarray(true_m)[:, :2], axis=1)
    visible = np.asarray(visible, dtype=bool)
    distractors = np.asarray(distractors)
    masks = {
        "all": visible,
        "object_only": visible & (distractors == 0),
        "with_distractors": visible & (distractors > 0),
    }
    return {
        "images": int(errors.size),
        "target_hidden": int((~visible).sum()),
        "subsets": {name: error_stats(errors[mask]) for name, mask in masks.items()},
    }


def evaluate_model(net: PoseNet, scaler: TargetScaler, data: PoseData, batch_size: int = 256) -> dict[str, Any]:
    """``score`` of the network's predictions on ``data``."""
    predicted = predict_xy(net, scaler, data.images, batch_size)
    return score(predicted, data.xy, data.distractors, data.target_pixels > 0)


def _run_model(run: str | Path) -> Path:
    run = Path(run)
    return run / MODEL_FILE if run.is_dir() else run


def evaluate(
    run: str | Path, datasets: Mapping[str, str | Path] | Sequence[str | Path], batch_size: int = 256
) -> dict[str, dict[str, Any]]:
    """Score a run (its folder or model file) on data set folders; returns name -> ``score`` result
    (a sequence is named by the folders' names)."""
    if not isinstance(datasets, Mapping):
        datasets = {Path(path).name or str(path): path for path in datasets}
    if not datasets:
        raise ConfigError("give at least one data set to evaluate on (--data DIR)")
    net, scaler, _ = load_checkpoint(_run_model(run))
    return {name: evaluate_model(net, scaler, load_pose_data(path), batch_size) for name, path in datasets.items()}


# -- training -----------------------------------------------------------------------------------------
def split_indices(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices: a seeded permutation, the last ``fraction`` held out."""
    order = np.random.default_rng([seed, count]).permutation(count)
    held = round(count * fraction)
    return np.sort(order[: count - held]), np.sort(order[count - held :])


@dataclass
class _Batch:
    """Training inputs: images (B, 3, H, W) uint8, positions (B, 2) m, target masks (B, H, W) and
    landmark pixels (B, L, 2), each ``None`` when not used."""

    images: torch.Tensor
    xy: torch.Tensor
    mask: torch.Tensor | None
    landmarks: torch.Tensor | None


def _batch(data: PoseData, index: torch.Tensor, mirror: np.ndarray | None, generator: torch.Generator) -> _Batch:
    """The inputs of ``index``; with ``mirror`` (the landmarks' mirror order) half of them are flipped
    left-right: y negated, masks flipped, landmark columns mirrored and swapped with their mirror images."""
    rows = index.numpy()
    images = data.images[index]
    xy = torch.from_numpy(data.xy[rows]).float()
    mask = None if data.target_mask is None else data.target_mask[index]
    marks = None if data.landmarks_px is None else torch.from_numpy(data.landmarks_px[rows]).float()
    if mirror is not None:
        flipped = torch.rand(len(index), generator=generator) < 0.5
        images = torch.where(flipped[:, None, None, None], images.flip(-1), images)
        xy[:, 1] = torch.where(flipped, -xy[:, 1], xy[:, 1])
        if mask is not None:
            mask = torch.where(flipped[:, None, None], mask.flip(-1), mask)
        if marks is not None:
            mirrored = marks[:, torch.from_numpy(mirror)].clone()
            mirrored[..., 0] = images.shape[-1] - mirrored[..., 0]
            marks = torch.where(flipped[:, None, None], mirrored, marks)
    return _Batch(images, xy, mask, marks)


def _loss(net: PoseNet, inputs: _Batch, scaler: TargetScaler, config: PoseTrainConfig) -> torch.Tensor:
    """Mean squared error of the normalised (x, y), plus the keypoint terms: ``mask_weight`` x the
    target mask's cross-entropy on keypoint 0, ``landmark_weight`` x the landmarks' on keypoints 1..L."""
    predicted, maps = net.forward_with_maps(inputs.images)
    loss = torch.nn.functional.mse_loss(predicted, scaler.encode(inputs.xy))
    shape = (maps.shape[-2], maps.shape[-1])
    if inputs.mask is not None and config.mask_weight > 0:
        loss = loss + config.mask_weight * heatmap_loss(maps[:, 0], mask_heatmap(inputs.mask, shape))
    if inputs.landmarks is not None and config.landmark_weight > 0:
        size = inputs.images.shape[-1]
        terms = [
            heatmap_loss(maps[:, 1 + i], point_heatmap(inputs.landmarks[:, i], size, shape))
            for i in range(inputs.landmarks.shape[1])
        ]
        loss = loss + config.landmark_weight * torch.stack(terms).mean()
    return loss


def fit(
    net: PoseNet,
    data: PoseData,
    train_index: np.ndarray,
    config: PoseTrainConfig,
    log: Log | None = None,
    val: PoseData | None = None,
) -> tuple[TargetScaler, dict[str, Any]]:
    """Train ``net`` in place on ``data[train_index]``; returns the scaler and the training metrics
    (per-epoch loss, validation error in cm on ``val``, seconds and training images/s); see ``_loss``."""
    torch.set_num_threads(config.threads)
    generator = torch.Generator().manual_seed(config.seed)
    scaler = TargetScaler.fit(data.xy[train_index])
    batch = min(config.batch_size, len(train_index))
    steps = max(len(train_index) // batch, 1)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, config.lr, total_steps=config.epochs * steps, pct_start=0.15
    )
    pool = torch.from_numpy(train_index)
    mirror = mirror_order(config.landmarks) if config.flip else None
    history, train_seconds = [], 0.0
    net.train()
    for epoch in range(config.epochs):
        start, total = time.perf_counter(), 0.0
        order = pool[torch.randperm(len(pool), generator=generator)]
        for step in range(steps):
            inputs = _batch(data, order[step * batch : (step + 1) * batch], mirror, generator)
            loss = _loss(net, inputs, scaler, config)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach())
        seconds = time.perf_counter() - start
        train_seconds += seconds
        row: dict[str, Any] = {"epoch": epoch + 1, "loss": total / steps, "seconds": seconds}
        if val is not None and len(val):
            row["val_mean_cm"] = evaluate_model(net, scaler, val)["subsets"]["all"]["mean_cm"]
        history.append(row)
        if log is not None:
            shown = f", val {row['val_mean_cm']:.2f} cm" if row.get("val_mean_cm") is not None else ""
            log(f"epoch {epoch + 1}/{config.epochs}: loss {row['loss']:.4f}{shown} ({seconds:.0f} s)")
    net.eval()
    presented = config.epochs * steps * batch
    return scaler, {
        "history": history,
        "train_seconds": train_seconds,
        "images_per_s": presented / train_seconds if train_seconds > 0 else float("nan"),
        "train_images": len(train_index),
    }


def _subset(data: PoseData, index: np.ndarray) -> PoseData:
    """The images ``index`` of ``data``."""
    rows = torch.from_numpy(index)
    mask = None if data.target_mask is None else data.target_mask[rows]
    marks = None if data.landmarks_px is None else data.landmarks_px[index]
    return PoseData(data.images[rows], data.xy[index], data.distractors[index], data.target_pixels[index], mask, marks)


def _settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """What makes a run: the config without ``out`` and without the image size the data decides."""
    settings = {key: value for key, value in config.items() if key != "out"}
    settings["model"] = {key: value for key, value in dict(settings.get("model") or {}).items() if key != "image_size"}
    return settings


def check_run_folder(config: PoseTrainConfig, run: Path) -> bool:
    """Whether ``run`` holds a finished run of ``config``'s settings (nothing to train); ``False`` for a new
    folder or one with no model yet. One ``ConfigError`` when it holds another run, which is never touched."""
    if (run / RL_CONFIG).exists():
        raise ConfigError(f"{run} holds an RL run ({RL_CONFIG}), not a pose run; use another --out (or 'out')")
    if not (run / MODEL_FILE).exists():
        return False
    _, _, stored = load_checkpoint(run / MODEL_FILE)
    before, after = _settings(stored), _settings(config.model_dump(mode="json"))
    if "image_size" in config.model.model_fields_set:  # asked for explicitly: it must be the model's
        before["model"]["image_size"] = (stored.get("model") or {}).get("image_size")
        after["model"]["image_size"] = config.model.image_size
    keys = differing_keys(before, after)
    if keys:
        raise ConfigError(
            f"{run} holds a pose model trained with other settings ({describe_difference(keys[0], before, after)}"
            f"{f' and {len(keys) - 1} more' if len(keys) > 1 else ''}); use another --out (or 'out') for a new run"
        )
    return (run / METRICS_FILE).is_file()


def train(source: ConfigInput, log: Log | None = None) -> Path:
    """Train a pose model as the config says; returns the run folder (``model.pt``, ``metrics.json``).
    A finished run of the same settings in the folder is returned as it is; another run is refused."""
    config = load_train_config(source)
    run = Path(config.out)
    if check_run_folder(config, run):
        if log is not None:
            log(f"{run} holds a finished pose run of these settings; nothing to train")
        return run
    run.mkdir(parents=True, exist_ok=True)
    data_path, generate_seconds = ensure_data(config.data, run / "data", log)
    landmarks = config.landmarks if config.landmark_weight > 0 else []
    data = load_pose_data(data_path, masks=config.mask_weight > 0, landmarks=landmarks)
    size = int(data.images.shape[-1])
    model_fields = config.model.model_fields_set
    if "image_size" in model_fields and config.model.image_size != size:
        raise ConfigError(f"model.image_size is {config.model.image_size} px but {data_path} holds {size} px images")
    net_settings = config.model.model_copy(update={"image_size": size})
    if len(data) < 2:
        raise ConfigError(f"{data_path} holds {len(data)} image(s); training needs at least 2")
    train_index, val_index = split_indices(len(data), config.val_fraction, config.seed)
    val = _subset(data, val_index)
    with torch.random.fork_rng(devices=[]):  # weights and any layer noise from the seed; the caller's torch RNG kept
        torch.manual_seed(config.seed)
        net = PoseNet(net_settings)
        scaler, metrics = fit(net, data, train_index, config, log, val)
    settings = config.model_copy(update={"model": net_settings}).model_dump(mode="json")
    save_checkpoint(run / MODEL_FILE, net, scaler, settings)
    metrics.update(
        kind="pose",
        data=str(data_path),
        generate_seconds=generate_seconds,
        val=evaluate_model(net, scaler, val) if len(val) else None,
        parameters=sum(p.numel() for p in net.parameters()),
        threads=config.threads,
    )
    scores = {}
    for name, spec in config.eval.items():
        path, _ = ensure_data(spec, run / f"eval_{name}", log)
        scores[name] = evaluate_model(net, scaler, load_pose_data(path))
    metrics["eval"] = scores
    (run / METRICS_FILE).write_text(json.dumps(metrics, indent=1) + "\n")
    return run


# -- command line -------------------------------------------------------------------------------------
def format_scores(scores: Mapping[str, Mapping[str, Any]]) -> str:
    """Scores (``evaluate``) as a text table: mean and median error (cm) per data set and subset."""
    lines = [f"{'data set':<20} {'subset':<18} {'n':>6} {'mean cm':>8} {'median cm':>10}"]
    for name, result in scores.items():
        for subset in SUBSETS:
            stats = result["subsets"][subset]
            mean = "-" if stats["mean_cm"] is None else f"{stats['mean_cm']:.2f}"
            median = "-" if stats["median_cm"] is None else f"{stats['median_cm']:.2f}"
            lines.append(f"{name:<20} {subset:<18} {stats['n']:>6} {mean:>8} {median:>10}")
        if result["target_hidden"]:
            lines.append(f"{name:<20} ({result['target_hidden']} images without a visible target left out)")
    return "\n".join(lines)


def train_from_arguments(
    args: argparse.Namespace, trainer: Callable[[dict[str, Any], Log | None], Path]
) -> dict[str, Any]:
    """``dr-sim train CONFIG [--set ...] [--out DIR] [--quiet]`` of a network kind that writes ``model.pt``
    and ``metrics.json`` (``train_seconds``, ``images_per_s``): ``trainer(config, log)`` trains, then the
    model file and the training speed are printed. Returns the run's metrics."""
    data = read_with_overrides(args.config, getattr(args, "settings", ()), "training config")
    if getattr(args, "out", None) is not None:
        data["out"] = args.out
    log = None if getattr(args, "quiet", False) else (lambda line: print(line, file=sys.stderr, flush=True))
    run = trainer(data, log)
    metrics: dict[str, Any] = json.loads((run / METRICS_FILE).read_text())
    print(f"trained {run / MODEL_FILE} in {metrics['train_seconds']:.0f} s ({metrics['images_per_s']:.0f} images/s)")
    return metrics


def run_train(args: argparse.Namespace) -> int:
    """Run ``dr-sim train CONFIG``: train, print the run folder and its validation error."""
    data = read_with_overrides(args.config, getattr(args, "settings", ()), "training config")
    kind = config_kind(data)
    if kind not in KINDS:
        raise ConfigError(f"{args.config}: kind {kind!r} is not supported; allowed: {', '.join(KINDS)}")
    if args.out is not None:
        data["out"] = args.out
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    config = load_train_config(data)
    run = train(config, log)
    metrics = json.loads((run / METRICS_FILE).read_text())
    val = (metrics.get("val") or {}).get("subsets", {}).get("all", {}).get("mean_cm")
    shown = f", validation error {val:.2f} cm" if val is not None else ""
    print(
        f"trained {run / MODEL_FILE} in {metrics['train_seconds']:.0f} s "
        f"({metrics['images_per_s']:.0f} images/s){shown}"
    )
    if metrics["eval"]:
        print(format_scores(metrics["eval"]))
    return 0


def named_data_sets(texts: list[str]) -> dict[str, str]:
    """``--data`` values, each ``NAME=DIR`` or ``DIR`` (named after the folder), as name -> folder."""
    named = {}
    for text in texts:
        name, sep, path = text.partition("=")
        named.update({name: path} if sep and name else {Path(text).name or text: text})
    return named


def is_pose_run(run: str | Path) -> bool:
    """Whether ``run`` is a pose run folder (it holds ``model.pt``) or a ``.pt`` model file."""
    path = Path(run)
    return (path / MODEL_FILE).is_file() if path.is_dir() else path.suffix == ".pt"


def add_evaluate_arguments(parser: argparse.ArgumentParser, *, shared: bool = True) -> None:
    """The ``evaluate`` subcommand's arguments; ``shared=False`` leaves out ``RUN`` and ``--json`` (for a
    parser where another kind of run added them already)."""
    if shared:
        parser.add_argument("run", metavar="RUN", help="run folder (holding model.pt) or a model file")
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument(
        "--data",
        action="append",
        default=None,
        metavar="[NAME=]DIR",
        help="pose, belief, detect runs: data set to score on",
    )


def run_evaluate(args: argparse.Namespace) -> int:
    """Run ``dr-sim evaluate RUN --data DIR``: mean and median error (cm) per data set and subset."""
    if not args.data:
        raise ConfigError("a pose run is scored on data sets: give --data DIR (repeatable, NAME=DIR to name it)")
    scores = evaluate(args.run, named_data_sets(args.data))
    print(json.dumps(scores) if args.json else format_scores(scores))
    return 0
