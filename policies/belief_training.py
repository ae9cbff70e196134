"""Train and evaluate the belief-map network (``dr_sim.policies.belief_net``): 6-DoF pose via PnP.

A YAML config of ``kind: belief``::

    kind: belief
    data: {path: runs/data/duck}   # a data set folder, or {generator: ..., n: ..., out: ...} (as kind: pose)
    eval:                          # optional: data sets scored after training (name -> data as above)
      heldout: {path: runs/data/duck_heldout}
    object: 0                      # which labelled object of each image (0: the target)
    symmetric: false               # score with ADD-S (a symmetric object) instead of ADD
    symmetry_axis: null            # x, y or z: the object looks the same at any turn about this axis
                                   # of its own frame (a ball, a can: z); training keypoints are those
                                   # of the canonical pose that faces the camera (needs symmetric: true)
    init_from: null                # a belief run folder (or its model.pt): start from its weights
                                   # (fine-tuning; its model must equal this config's model)
    epochs: 30
    batch_size: 32
    lr: 0.002                      # Adam, peak of a one-cycle schedule
    weight_decay: 0.0
    sigma: 1.0                     # target Gaussians' std, belief-map cells (4 px)
    positive_weight: 100.0         # squared errors weigh 1 + this x target: the peaks are a few cells of
                                   # each map, and a plain MSE is won by maps of zeros
    offset_weight: 1.0             # weight of the corner offsets' L1 loss (model.corner_offsets)
    colour: null                   # colour jitter of the training images (null: none), e.g.
                                   # {gain: 0.4, saturation: [0.0, 1.5], brightness: 0.1, noise: 0.03}
    val_fraction: 0.05
    min_peak: 0.1                  # keypoints whose peak is lower are left out of PnP
    calibration_error: {translation_m: 0.005, rotation_deg: 0.5}
    calibration_seed: 0            # one calibration error drawn per evaluation set from this seed
    seed: 0
    threads: 2
    out: runs/belief/duck
    model: {stem: [32, 64], context: 4, max_dilation: 8}   # or {architecture: pyramid, corner_offsets:
                                   # true} (policies/belief_net.py: what small objects need)

Colour jitter (``ColourJitter``) draws per image a gain per channel in [1 - gain, 1 + gain], a
saturation factor about the pixel's grey value, a brightness offset in [-brightness, brightness] and
Gaussian noise of std ``noise`` (values as fractions of full scale), from a torch generator seeded by
``seed``: the keypoints do not move, so the labels stay exact.

The run folder gets ``model.pt`` (weights, the object's 9 keypoint model points, the config) and
``metrics.json`` (per-epoch loss, seconds, and the ``eval`` scores). A folder holding a model of other
settings is refused; a finished run of the same settings is left as it is.

Fine-tuning (``init_from``): the network starts from the weights of another belief run's ``model.pt``
instead of the seed's initial weights, then trains as the config says (randomized pretraining, then a
few labelled images of the target look). The run's ``model`` must be the same architecture as this
config's ``model``, else one ``ConfigError``. ``metrics.json`` records the SHA-256 of the file the
weights came from (``init_sha256``), so a run says which pretrained weights it grew from.

Evaluation (``evaluate_belief``): per image, the belief maps' peaks, PnP with the frame's K, the world
pose through the camera pose, and the (x, y) of the centroid's ray on the plane of the object's centre;
scored in the world frame with ``dr_sim.pose.metrics`` twice: with the true camera pose
(``true_camera``) and with the pose a user would have, the true one moved by one calibration error drawn
per evaluation set (``calibrated_camera``; ``dr_sim.pose.calibration_error``). ADD and ADD-S use the
object's model points: the named mesh's vertices when the data set's env has a ``target_mesh``, else
points on the faces of its box (exact for the cube). Images where the object is not visible are left
out and counted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from dr_sim.config.loader import load_model
from dr_sim.config.params import StrictModel
from dr_sim.datasets.torch_dataset import ShardDataset
from dr_sim.envs.named_meshes import load_mesh
from dr_sim.errors import ConfigError
from dr_sim.policies.belief_net import (
    STRIDE,
    BeliefNet,
    BeliefNetConfig,
    belief_loss,
    gaussian_targets,
    load_belief_checkpoint,
    offset_loss,
    predict_beliefs,
    save_belief_checkpoint,
)
from dr_sim.policies.pose_training import (
    DataSpec,
    ensure_data,
    named_data_sets,
    split_indices,
    train_from_arguments,
)
from dr_sim.policies.pose_training import add_evaluate_arguments as add_pose_evaluate_arguments
from dr_sim.pose.calibration_error import CalibrationErrorSpec, draw_calibration_error, perturb_pose
from dr_sim.pose.keypoints import CENTROID, KEYPOINTS, canonical_keypoints, label_keypoints, label_model_points
from dr_sim.pose.metrics import pose_metrics, summarize
from dr_sim.pose.pipeline import estimate_pose
from dr_sim.run_cache import describe_difference, differing_keys
from dr_sim.run_files import write_run_files

KIND = "belief"
MODEL_FILE = "model.pt"
METRICS_FILE = "metrics.json"
BOX_FACE_STEPS = 8  # points per box edge of the model points of an object without a mesh
Log = Callable[[str], None]


class ColourJitter(StrictModel):
    """Colour jitter of training images (see the module docstring; fractions of full scale)."""

    gain: float = Field(default=0.4, ge=0, lt=1)
    saturation: list[float] = Field(default_factory=lambda: [0.0, 1.5], min_length=2, max_length=2)
    brightness: float = Field(default=0.1, ge=0, le=1)
    noise: float = Field(default=0.03, ge=0, le=1)

    @model_validator(mode="after")
    def _saturation_range(self) -> ColourJitter:
        low, high = self.saturation
        if not 0 <= low <= high:
            raise ValueError(f"saturation must be [low, high] with 0 <= low <= high, got {self.saturation}")
        return self


def jitter_colours(images: torch.Tensor, jitter: ColourJitter, generator: torch.Generator) -> torch.Tensor:
    """uint8 images (B, 3, H, W) as floats in [0, 1] with ``jitter`` drawn per image from ``generator``."""
    x = images.float() / 255.0
    batch = x.shape[0]
    low, high = jitter.saturation
    saturation = low + (high - low) * torch.rand(batch, 1, 1, 1, generator=generator)
    grey = x.mean(dim=1, keepdim=True)
    x = grey + saturation * (x - grey)
    gains = 1.0 + jitter.gain * (2.0 * torch.rand(batch, 3, 1, 1, generator=generator) - 1.0)
    offsets = jitter.brightness * (2.0 * torch.rand(batch, 1, 1, 1, generator=generator) - 1.0)
    noise = jitter.noise * torch.randn(x.shape, generator=generator)
    return (x * gains + offsets + noise).clamp(0.0, 1.0)


class BeliefTrainConfig(StrictModel):
    """A belief-map training run (see the module docstring for each key and its unit)."""

    kind: Literal["belief"]
    data: DataSpec
    eval: dict[str, DataSpec] = Field(default_factory=dict)
    object: int = Field(default=0, ge=0)
    symmetric: bool = False
    symmetry_axis: Literal["x", "y", "z"] | None = None
    init_from: str | None = None
    epochs: int = Field(default=30, ge=1, le=10_000)
    batch_size: int = Field(default=32, ge=2, le=65_536)
    lr: float = Field(default=2e-3, gt=0, le=1)
    weight_decay: float = Field(default=0.0, ge=0)
    sigma: float = Field(default=1.0, gt=0, le=16)
    positive_weight: float = Field(default=100.0, ge=0)
    offset_weight: float = Field(default=1.0, ge=0)
    colour: ColourJitter | None = None
    val_fraction: float = Field(default=0.05, ge=0, lt=1)
    min_peak: float = Field(default=0.1, ge=0)
    calibration_error: CalibrationErrorSpec = Field(default_factory=CalibrationErrorSpec)
    calibration_seed: int = Field(default=0, ge=0)
    seed: int = Field(default=0, ge=0)
    threads: int = Field(default=2, ge=1, le=256)
    out: str
    model: BeliefNetConfig = Field(default_factory=BeliefNetConfig)

    @model_validator(mode="after")
    def _symmetry_scores_with_add_s(self) -> BeliefTrainConfig:
        if self.symmetry_axis is not None and not self.symmetric:
            raise ValueError(
                f"symmetry_axis {self.symmetry_axis!r} makes the estimated turn about that axis arbitrary; "
                "set symmetric: true so that it is scored with ADD-S"
            )
        return self


def load_belief_config(source: str | Path | Mapping[str, Any] | BeliefTrainConfig) -> BeliefTrainConfig:
    """A validated ``BeliefTrainConfig`` from a YAML path, a mapping or a config; one ``ConfigError`` if bad."""
    return load_model(BeliefTrainConfig, source, "belief config")


# -- data ---------------------------------------------------------------------------------------------
@dataclass
class BeliefData:
    """A data set's images and one object's labels, in memory: ``images`` (N, 3, H, W) uint8,
    ``keypoints`` (N, 9, 2) px, ``k`` (N, 3, 3), ``camera_pose`` (N, 4, 4) camera-to-world and ``pose``
    (N, 4, 4) object-to-camera (m, OpenCV frame), ``visible`` (N,) any object pixel seen, and the
    object's 9 keypoint ``model_points`` (9, 3; m, object frame)."""

    images: torch.Tensor
    keypoints: np.ndarray
    k: np.ndarray
    camera_pose: np.ndarray
    pose: np.ndarray
    visible: np.ndarray
    model_points: np.ndarray

    def __len__(self) -> int:
        return len(self.keypoints)


def load_belief_data(root: str | Path, object_index: int = 0, symmetry_axis: str | None = None) -> BeliefData:
    """Read a complete data set folder into memory with the keypoints of labelled object ``object_index``
    (those of its canonical pose when it is symmetric about its ``symmetry_axis``; ``pose`` stays the
    labelled one)."""
    dataset = ShardDataset(root)
    count = len(dataset)
    size = int(dataset.meta["image_size"])
    images = torch.empty((count, 3, size, size), dtype=torch.uint8)
    keypoints, k = np.empty((count, 9, 2)), np.empty((count, 3, 3))
    camera_pose, pose = np.empty((count, 4, 4)), np.empty((count, 4, 4))
    visible = np.zeros(count, dtype=bool)
    model_points = None
    for i in range(count):
        sample = dataset[i]
        objects = sample["labels"]["objects"]
        if object_index >= len(objects):
            raise ConfigError(f"object {object_index}: image {i} of {root} labels {len(objects)} object(s)")
        label = objects[object_index]
        images[i] = torch.from_numpy(sample["rgb"]).permute(2, 0, 1)
        k[i] = np.asarray(sample["labels"]["camera"]["K"])
        camera_pose[i] = np.asarray(sample["labels"]["camera"]["pose"])
        pose[i] = np.asarray(label["pose"])
        keypoints[i] = (
            label_keypoints(label, k[i]) if symmetry_axis is None else canonical_keypoints(label, k[i], symmetry_axis)
        )
        visible[i] = int(label.get("pixels", 0)) > 0
        if model_points is None:
            model_points = label_model_points(label, k[i])
    if model_points is None:
        raise ConfigError(f"{root} holds no images")
    return BeliefData(images, keypoints, k, camera_pose, pose, visible, model_points)


def box_surface_points(corners: np.ndarray, steps: int = BOX_FACE_STEPS) -> np.ndarray:
    """Points (M, 3) on the six faces of the box whose 8 corners (ordered as the labels') are given."""
    low, high = corners[:8].min(axis=0), corners[:8].max(axis=0)
    ramp = np.linspace(0.0, 1.0, steps)
    a, b = (grid.reshape(-1) for grid in np.meshgrid(ramp, ramp))
    faces = []
    for axis in range(3):
        u, v = [other for other in range(3) if other != axis]
        for side in (low[axis], high[axis]):
            face = np.empty((len(a), 3))
            face[:, axis] = side
            face[:, u] = low[u] + a * (high[u] - low[u])
            face[:, v] = low[v] + b * (high[v] - low[v])
            faces.append(face)
    return np.unique(np.vstack(faces).round(9), axis=0)


def object_model_points(root: str | Path, box_points: np.ndarray, object_index: int = 0) -> np.ndarray:
    """The model points (m, object frame) for ADD and ADD-S: the named mesh's vertices when the data
    set's env names a ``target_mesh`` (and ``object_index`` is the target), else the box's faces."""
    meta = ShardDataset(root).meta
    kwargs = (meta.get("config") or {}).get("env_kwargs") or {}
    if object_index == 0 and kwargs.get("target_mesh"):
        mesh = load_mesh(kwargs["target_mesh"], kwargs.get("target_scale", 1.0), kwargs.get("target_rpy", (0, 0, 0)))
        return mesh.points
    return box_surface_points(box_points)


# -- training -----------------------------------------------------------------------------------------
def fit(
    net: BeliefNet, data: BeliefData, train_index: np.ndarray, config: BeliefTrainConfig, log: Log | None = None
) -> dict[str, Any]:
    """Train ``net`` in place on ``data[train_index]`` (weighted squared error to Gaussian belief maps,
    plus the corner offsets' L1 error when the net draws them); returns the per-epoch loss, seconds and
    training images/s."""
    torch.set_num_threads(config.threads)
    generator = torch.Generator().manual_seed(config.seed)
    batch = min(config.batch_size, len(train_index))
    steps = max(len(train_index) // batch, 1)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, config.lr, total_steps=config.epochs * steps, pct_start=0.15
    )
    keypoints = torch.from_numpy(data.keypoints).float()
    pool = torch.from_numpy(np.asarray(train_index, dtype=np.int64))
    history, train_seconds = [], 0.0
    net.train()
    for epoch in range(config.epochs):
        start, total = time.perf_counter(), 0.0
        order = pool[torch.randperm(len(pool), generator=generator)]
        for step in range(steps):
            index = order[step * batch : (step + 1) * batch]
            images = data.images[index]
            outputs = net(images if config.colour is None else jitter_colours(images, config.colour, generator))
            maps = outputs[:, :KEYPOINTS]
            target = gaussian_targets(keypoints[index], (maps.shape[-2], maps.shape[-1]), STRIDE, config.sigma)
            loss = belief_loss(maps, target, config.positive_weight)
            if net.config.corner_offsets:
                loss = loss + config.offset_weight * offset_loss(outputs, keypoints[index], target[:, CENTROID])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach())
        seconds = time.perf_counter() - start
        train_seconds += seconds
        history.append({"epoch": epoch + 1, "loss": total / steps, "seconds": seconds})
        if log is not None:
            log(f"epoch {epoch + 1}/{config.epochs}: loss {total / steps:.5f} ({seconds:.0f} s)")
    net.eval()
    presented = config.epochs * steps * batch
    return {
        "history": history,
        "train_seconds": train_seconds,
        "images_per_s": presented / train_seconds if train_seconds > 0 else float("nan"),
        "train_images": len(train_index),
    }


def _settings(config: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key != "out"}


def train_belief(source: str | Path | Mapping[str, Any] | BeliefTrainConfig, log: Log | None = None) -> Path:
    """Train a belief model as the config says; returns the run folder (``model.pt``, ``metrics.json``)."""
    config = load_belief_config(source)
    run = Path(config.out)
    if (run / MODEL_FILE).exists():
        _, _, stored = load_belief_checkpoint(run / MODEL_FILE)
        before, after = _settings(stored), _settings(config.model_dump(mode="json"))
        keys = differing_keys(before, after)
        if keys:
            raise ConfigError(
                f"{run} holds a belief model trained with other settings "
                f"({describe_difference(keys[0], before, after)}); use another out folder for a new run"
            )
        if (run / METRICS_FILE).is_file():
            return run
    write_run_files(config.model_dump(mode="json"), run)  # config.yaml (kind: belief), git state, command
    data_path, generate_seconds = ensure_data(config.data, run / "data", log)
    data = load_belief_data(data_path, config.object, config.symmetry_axis)
    if len(data) < 2:
        raise ConfigError(f"{data_path} holds {len(data)} image(s); training needs at least 2")
    train_index, val_index = split_indices(len(data), config.val_fraction, config.seed)
    with torch.random.fork_rng(devices=[]):  # weights from the seed; the caller's torch RNG kept
        torch.manual_seed(config.seed)
        net = BeliefNet(config.model)
        init_sha256 = None if config.init_from is None else initialise_from(net, config.init_from)
        metrics = fit(net, data, train_index, config, log)
    settings = config.model_dump(mode="json")
    save_belief_checkpoint(run / MODEL_FILE, net, data.model_points, settings)
    metrics.update(kind=KIND, data=str(data_path), generate_seconds=generate_seconds, threads=config.threads)
    metrics["parameters"] = sum(p.numel() for p in net.parameters())
    metrics["val_images"] = len(val_index)
    metrics["init_from"], metrics["init_sha256"] = config.init_from, init_sha256
    scores = {}
    for name, spec in config.eval.items():
        path, _ = ensure_data(spec, run / f"eval_{name}", log)
        scores[name] = score_data(net, config, path)
    metrics["eval"] = scores
    (run / METRICS_FILE).write_text(json.dumps(metrics, indent=1) + "\n")
    return run


def initialise_from(net: BeliefNet, run: str | Path) -> str:
    """Load the weights of belief run ``run`` (its folder or ``model.pt``) into ``net``, whose architecture
    must be the run's (else one ``ConfigError``); returns the SHA-256 of the file read."""
    path = Path(run)
    model = path / MODEL_FILE if path.is_dir() else path
    if not model.is_file():
        raise ConfigError(f"init_from {str(run)!r} holds no {MODEL_FILE}; name a finished belief run folder")
    pretrained, _, _ = load_belief_checkpoint(model)
    theirs, ours = pretrained.config.model_dump(mode="json"), net.config.model_dump(mode="json")
    if theirs != ours:
        keys = differing_keys(theirs, ours)
        raise ConfigError(
            f"init_from {str(run)!r} was trained with another network "
            f"(model.{describe_difference(keys[0], theirs, ours)}); set this config's model to {theirs}"
        )
    net.load_state_dict(pretrained.state_dict())
    return hashlib.sha256(model.read_bytes()).hexdigest()


# -- evaluation ---------------------------------------------------------------------------------------
def score_data(net: BeliefNet, config: BeliefTrainConfig, root: str | Path, seed: int = 0) -> dict[str, Any]:
    """The scores of ``net`` on the data set ``root`` (see the module docstring)."""
    data = load_belief_data(root, config.object, config.symmetry_axis)
    points = object_model_points(root, data.model_points, config.object)
    rows = np.flatnonzero(data.visible)
    beliefs = predict_beliefs(net, data.images[torch.from_numpy(rows)]) if rows.size else np.zeros((0, KEYPOINTS, 1, 1))
    size = config.calibration_error.size()
    error = draw_calibration_error(np.random.default_rng([config.calibration_seed, len(data)]), size)
    result: dict[str, Any] = {
        "images": len(data),
        "object_hidden": int((~data.visible).sum()),
        "calibration_error": {"translation_m": size.translation_m, "rotation_deg": size.rotation_deg},
    }
    truths = [data.camera_pose[i] @ data.pose[i] for i in rows]
    heights = [float(truth[2, 3]) for truth in truths]  # the plane of the object's centre
    for name, camera_poses in (
        ("true_camera", [data.camera_pose[i] for i in rows]),
        ("calibrated_camera", [perturb_pose(data.camera_pose[i], error) for i in rows]),
    ):
        estimates = [
            estimate_pose(belief, data.model_points, data.k[i], camera, height, STRIDE, config.min_peak)
            for belief, i, camera, height in zip(beliefs, rows, camera_poses, heights, strict=True)
        ]
        scores = pose_metrics([e.world_pose for e in estimates], truths, points, config.symmetric, seed)
        scores["xy_ray_cm"] = summarize(
            [np.linalg.norm(e.xy - t[:2, 3]) for e, t in zip(estimates, truths, strict=True)], seed, 100.0
        )
        scores["reprojection_error_px"] = summarize([e.reprojection_error_px for e in estimates], seed)
        result[name] = scores
    return result


def evaluate_belief(run: str | Path, datasets: Mapping[str, str | Path], seed: int = 0) -> dict[str, dict[str, Any]]:
    """Score a belief run (its folder or model file) on data set folders; name -> ``score_data`` result."""
    if not datasets:
        raise ConfigError("give at least one data set to evaluate on (--data DIR)")
    path = Path(run)
    net, _, stored = load_belief_checkpoint(path / MODEL_FILE if path.is_dir() else path)
    config = load_belief_config(stored)
    return {name: score_data(net, config, root, seed) for name, root in datasets.items()}


def is_belief_run(run: str | Path) -> bool:
    """Whether ``run`` holds (or is) a belief model checkpoint."""
    path = Path(run)
    model = path / MODEL_FILE if path.is_dir() else path
    if not model.is_file():
        return False
    try:
        state = torch.load(model, map_location="cpu", weights_only=True)
    except Exception:  # not a torch file: not ours
        return False
    return isinstance(state, dict) and state.get("kind") == KIND


# -- command line -------------------------------------------------------------------------------------
HEADLINES = (
    ("translation_cm", "t cm"),
    ("rotation_deg", "R deg"),
    ("add_accuracy", "ADD<10%d"),
    ("add_s_accuracy", "ADD-S<10%d"),
    ("add_auc", "ADD AUC"),
    ("xy_ray_cm", "xy cm"),
)


def format_belief_scores(scores: Mapping[str, Mapping[str, Any]]) -> str:
    """Scores (``evaluate_belief``) as a text table: each headline's mean [95 % interval] per data set and
    camera pose (true, calibrated)."""
    lines = [f"{'data set':<16} {'camera':<18} " + " ".join(f"{title:>22}" for _, title in HEADLINES)]
    for name, result in scores.items():
        for camera in ("true_camera", "calibrated_camera"):
            cells = []
            for key, _ in HEADLINES:
                stats = result[camera].get(key) or {}
                mean = stats.get("mean")
                cells.append(
                    f"{'-':>22}"
                    if mean is None
                    else f"{mean:>8.3f} [{stats['ci_low']:.3f}, {stats['ci_high']:.3f}]".rjust(22)
                )
            lines.append(f"{name:<16} {camera:<18} " + " ".join(cells))
        if result["object_hidden"]:
            lines.append(f"{name:<16} ({result['object_hidden']} images without a visible object left out)")
    return "\n".join(lines)


def run_train(args: argparse.Namespace) -> int:
    """``dr-sim train CONFIG`` of ``kind: belief``: train, print the run folder and its training speed."""
    metrics = train_from_arguments(args, train_belief)
    if metrics["eval"]:
        print(format_belief_scores(metrics["eval"]))
    return 0


def add_evaluate_arguments(parser: argparse.ArgumentParser, *, shared: bool = True) -> None:
    """``dr-sim evaluate RUN --data [NAME=]DIR ... [--json]``: a pose run's options."""
    add_pose_evaluate_arguments(parser, shared=shared)


def run_evaluate(args: argparse.Namespace) -> int:
    """``dr-sim evaluate RUN --data DIR``: pose metrics with bootstrap intervals, true and calibrated camera."""
    if not args.data:
        raise ConfigError("a belief run is scored on data sets: give --data DIR (repeatable, NAME=DIR to name it)")
    scores = evaluate_belief(args.run, named_data_sets(args.data))
    print(json.dumps(scores) if args.json else format_belief_scores(scores))
    return 0
