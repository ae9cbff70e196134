"""Train and evaluate the multi-class detector (``dr_sim.policies.detector_net``, CenterNet-style).

A YAML config of ``kind: detect``::

    kind: detect
    data: {path: runs/data/detect}  # a data set folder (or its coco/ export), or
                                    # {generator: ..., n: ..., out: ...} (as kind: pose and belief)
    eval:                           # optional: data sets scored after training (name -> data as above)
      heldout: {path: runs/data/detect_heldout}
    classes: [duck, teddy]          # an object is of class c when its label is named c or c_<n>
    image_size: null                # px: null keeps the data set's size, which must be 96-160 and a
                                    # multiple of 16; a number (96-160, multiple of 16) resizes to it
    init_from: null                 # a detect run folder (or its model.pt): start from its weights
                                    # (fine-tuning; same model, classes and image size)
    epochs: 20
    batch_size: 32
    lr: 0.002                       # Adam, peak of a one-cycle schedule
    weight_decay: 0.0
    size_weight: 1.0                # weight of the L1 loss on log box size
    offset_weight: 1.0              # weight of the L1 loss on the centre's sub-cell offset
    augment: {}                     # null: none; keys: dr_sim.policies.detector_data.AugmentConfig
                                    # (flip 0.5, shift 0.15, scale [0.8, 1.25], color 0.1, blur 0.2,
                                    # blur_sigma [0.5, 1.2] px, brightness 0.1, contrast [0.8, 1.2],
                                    # noise 0.02)
    val_fraction: 0.05              # of the training images, held out and scored after training
    score_threshold: 0.3            # detections drawn on the evaluation sheet score at least this
    max_detections: 100             # the highest-scoring boxes kept per image (scored with COCO AP)
    seed: 0                         # weights, split, shuffling and augmentation
    threads: 2                      # torch CPU threads
    out: runs/detect/detect
    model: {widths: [16, 24, 48, 64], head: 32}

The run folder gets ``config.yaml`` (the resolved config), ``git.txt`` (the commit) and ``command.txt``
(``dr_sim.run_files``), ``checkpoint.pt`` after each epoch (weights, optimizer, schedule, shuffling
state: an interrupted run of the same settings resumes from it), ``tb/`` (TensorBoard: ``loss/*`` per
epoch, training and held-out, ``lr``, ``speed/images_per_s``), ``model.pt`` (weights, class names, image
size, the config with the image size used) and ``metrics.json`` (per-epoch losses, seconds and images/s,
the held-out split's and the ``eval`` sets' COCO scores, ``init_sha256``). A folder holding a run of
other settings, or a model of another kind, is refused; a finished run of the same settings is left as
it is.

Evaluation (``evaluate_detector``): the ``max_detections`` best boxes per image against the data set's
boxes (each the tight box of its instance mask), scored by ``dr_sim.detection.metrics.coco_scores``
(AP, AP50, AP75, AP small / medium / large with bootstrap intervals, per-class AP).
``dr-sim evaluate RUN --data DIR [--json] [--sheet PATH]`` prints them and draws the first
``SHEET_IMAGES`` images of each set with their boxes (``dr_sim.detection.sheet``) into
``RUN/detections_<name>.png`` (or ``PATH``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, field_validator
from torch.utils.tensorboard import SummaryWriter

from dr_sim.config.loader import load_model, read_yaml_mapping
from dr_sim.config.params import StrictModel
from dr_sim.datasets.shards import read_meta
from dr_sim.detection.boxes import Detections, ImageBoxes
from dr_sim.detection.metrics import DetectionScores, coco_scores
from dr_sim.detection.sheet import detection_sheet
from dr_sim.errors import ConfigError
from dr_sim.policies.detector_data import (
    AugmentConfig,
    DetectionData,
    DetectionDataset,
    collate,
    data_set_folder,
    load_detection_data,
)
from dr_sim.policies.detector_net import (
    INPUT_MULTIPLE,
    DetectorNet,
    DetectorNetConfig,
    detection_loss,
    load_detector_checkpoint,
    predict,
    read_detector_state,
    save_detector_checkpoint,
)
from dr_sim.policies.pose_training import (
    DataSpec,
    ensure_data,
    named_data_sets,
    split_indices,
    train_from_arguments,
)
from dr_sim.policies.pose_training import add_evaluate_arguments as add_pose_evaluate_arguments
from dr_sim.progress import Progress
from dr_sim.run_cache import describe_difference, differing_keys
from dr_sim.run_files import CONFIG_FILE, write_run_files

KIND = "detect"
MODEL_FILE = "model.pt"
CHECKPOINT_FILE = "checkpoint.pt"
METRICS_FILE = "metrics.json"
TENSORBOARD_FOLDER = "tb"
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 96, 160  # px, the input sizes the detector is built for
SHEET_IMAGES = 24  # images drawn on an evaluation sheet
EVAL_BATCH = 64
Log = Callable[[str], None]


class DetectTrainConfig(StrictModel):
    """A detector training run (see the module docstring for each key and its unit)."""

    kind: Literal["detect"]
    data: DataSpec
    eval: dict[str, DataSpec] = Field(default_factory=dict)
    classes: list[str] = Field(min_length=1, max_length=255)
    image_size: int | None = Field(default=None, ge=MIN_IMAGE_SIZE, le=MAX_IMAGE_SIZE)
    init_from: str | None = None
    epochs: int = Field(default=20, ge=1, le=10_000)
    batch_size: int = Field(default=32, ge=2, le=65_536)
    lr: float = Field(default=2e-3, gt=0, le=1)
    weight_decay: float = Field(default=0.0, ge=0)
    size_weight: float = Field(default=1.0, ge=0)
    offset_weight: float = Field(default=1.0, ge=0)
    augment: AugmentConfig | None = Field(default_factory=AugmentConfig)
    val_fraction: float = Field(default=0.05, ge=0, lt=1)
    score_threshold: float = Field(default=0.3, ge=0, le=1)
    max_detections: int = Field(default=100, ge=1, le=10_000)
    seed: int = Field(default=0, ge=0)
    threads: int = Field(default=2, ge=1, le=256)
    out: str
    model: DetectorNetConfig = Field(default_factory=DetectorNetConfig)

    @field_validator("classes")
    @classmethod
    def _distinct_names(cls, value: list[str]) -> list[str]:
        if any(not name for name in value):
            raise ValueError("class names must not be empty")
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"each class is named once; repeated: {', '.join(map(repr, repeated))}")
        return value

    @field_validator("image_size")
    @classmethod
    def _whole_cells(cls, value: int | None) -> int | None:
        if value is not None and value % INPUT_MULTIPLE:
            raise ValueError(f"image_size must be a multiple of {INPUT_MULTIPLE} px, got {value}")
        return value


def load_detect_config(source: str | Path | Mapping[str, Any] | DetectTrainConfig) -> DetectTrainConfig:
    """A validated ``DetectTrainConfig`` from a YAML path, a mapping or a config; one ``ConfigError`` if bad."""
    return load_model(DetectTrainConfig, source, "detect config")


def input_size(config: DetectTrainConfig, root: str | Path) -> int:
    """The input side (px) of a run on the data set ``root``: ``image_size``, else the data set's own,
    which must then fit the detector (one ``ConfigError`` saying to set ``image_size`` otherwise)."""
    if config.image_size is not None:
        return config.image_size
    stored = int(read_meta(data_set_folder(root))["image_size"])
    if not MIN_IMAGE_SIZE <= stored <= MAX_IMAGE_SIZE or stored % INPUT_MULTIPLE:
        raise ConfigError(
            f"{root} holds {stored} px images; the detector takes {MIN_IMAGE_SIZE}-{MAX_IMAGE_SIZE} px, multiples "
            f"of {INPUT_MULTIPLE}: set image_size (for example 128) to resize them"
        )
    return stored


# -- training -----------------------------------------------------------------------------------------
def validation_loss(net: DetectorNet, data: DetectionData, rows: np.ndarray, config: DetectTrainConfig) -> float:
    """The mean loss of ``net`` (eval mode) on the images ``rows`` as they are (no augmentation)."""
    dataset = DetectionDataset(data, rows)
    was_training, total = net.training, 0.0
    net.eval()
    with torch.no_grad():
        for start in range(0, len(dataset), EVAL_BATCH):
            items = [dataset[i] for i in range(start, min(start + EVAL_BATCH, len(dataset)))]
            images, targets = collate(items, len(data.classes))
            loss, _ = detection_loss(net(images), targets, config.size_weight, config.offset_weight)
            total += float(loss) * len(items)
    net.train(was_training)
    return total / max(len(dataset), 1)


def fit(
    net: DetectorNet,
    data: DetectionData,
    train_rows: np.ndarray,
    config: DetectTrainConfig,
    log: Log | None = None,
    *,
    val_rows: np.ndarray | None = None,
    run: Path | None = None,
) -> dict[str, Any]:
    """Train ``net`` in place on the augmented images ``train_rows`` of ``data``; returns the per-epoch
    losses (training, and held-out on ``val_rows``), seconds and images/s. With a ``run`` folder: writes
    TensorBoard scalars and ``checkpoint.pt`` after each epoch, and resumes from a checkpoint there."""
    torch.set_num_threads(config.threads)
    dataset = DetectionDataset(data, train_rows, config.augment, config.seed)
    batch = min(config.batch_size, len(dataset))
    steps = max(len(dataset) // batch, 1)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, config.lr, total_steps=config.epochs * steps, pct_start=0.15
    )
    generator = torch.Generator().manual_seed(config.seed)
    state: dict[str, Any] = {"epoch": 0, "history": [], "train_seconds": 0.0}
    if run is not None and (run / CHECKPOINT_FILE).is_file():
        state = resume(run / CHECKPOINT_FILE, net, optimizer, schedule, generator)
        if log is not None:
            log(f"resuming {run} after epoch {state['epoch']}/{config.epochs}")
    writer = None if run is None else SummaryWriter(str(run / TENSORBOARD_FOLDER))
    progress = Progress(
        config.epochs * steps, "training", "batch", done=state["epoch"] * steps, enabled=log is not None
    )
    net.train()
    try:
        for epoch in range(state["epoch"], config.epochs):
            dataset.set_epoch(epoch)
            start = time.perf_counter()
            order = torch.randperm(len(dataset), generator=generator)
            means = train_epoch(net, dataset, order, batch, optimizer, schedule, config, progress)
            seconds = time.perf_counter() - start
            row: dict[str, Any] = {"epoch": epoch + 1, **means}
            if val_rows is not None and len(val_rows):
                row["val_loss"] = validation_loss(net, data, val_rows, config)
            row.update(seconds=seconds, images_per_s=steps * batch / seconds, lr=schedule.get_last_lr()[0])
            state["history"].append(row)
            state["train_seconds"] += seconds
            state["epoch"] = epoch + 1
            if run is not None and writer is not None:
                write_scalars(writer, row)
                save_training_state(run / CHECKPOINT_FILE, state, net, optimizer, schedule, generator)
            if log is not None:
                shown = f", held-out {row['val_loss']:.4f}" if "val_loss" in row else ""
                log(f"epoch {epoch + 1}/{config.epochs}: loss {row['loss']:.4f}{shown} ({seconds:.0f} s)")
    finally:
        progress.close()
        if writer is not None:
            writer.close()
    net.eval()
    seconds = state["train_seconds"]
    presented = sum(row["images_per_s"] * row["seconds"] for row in state["history"])
    return {
        "history": state["history"],
        "train_seconds": seconds,
        "images_per_s": presented / seconds if seconds > 0 else float("nan"),
        "train_images": len(dataset),
    }


def train_epoch(
    net: DetectorNet,
    dataset: DetectionDataset,
    order: torch.Tensor,
    batch: int,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    config: DetectTrainConfig,
    progress: Progress,
) -> dict[str, float]:
    """One pass over ``dataset`` in ``order``, in whole batches of ``batch`` items (the rest left out); the
    mean loss and its parts (``detection_loss``)."""
    steps = max(len(order) // batch, 1)
    sums = {"loss": 0.0, "heatmap": 0.0, "size": 0.0, "offset": 0.0}
    for step in range(steps):
        items = [dataset[int(i)] for i in order[step * batch : (step + 1) * batch]]
        images, targets = collate(items, len(dataset.data.classes))
        loss, parts = detection_loss(net(images), targets, config.size_weight, config.offset_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        sums["loss"] += float(loss.detach())
        for key, value in parts.items():
            sums[key] += value
        progress.advance()
    return {key: value / steps for key, value in sums.items()}


def write_scalars(writer: SummaryWriter, row: Mapping[str, Any]) -> None:
    """One epoch's row of the history as TensorBoard scalars (step: the epoch)."""
    for key in ("loss", "heatmap", "size", "offset"):
        writer.add_scalar(f"loss/{key}", row[key], row["epoch"])
    if "val_loss" in row:
        writer.add_scalar("loss/held_out", row["val_loss"], row["epoch"])
    writer.add_scalar("lr", row["lr"], row["epoch"])
    writer.add_scalar("speed/images_per_s", row["images_per_s"], row["epoch"])
    writer.flush()


def save_training_state(
    path: Path,
    state: Mapping[str, Any],
    net: DetectorNet,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
) -> None:
    """Write what resuming after ``state["epoch"]`` needs to ``path`` (atomically)."""
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(
        {
            **state,
            "net": net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "generator": generator.get_state(),
        },
        tmp,
    )
    tmp.replace(path)


def resume(
    path: Path,
    net: DetectorNet,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
) -> dict[str, Any]:
    """Load a ``save_training_state`` file into the training objects; returns its epoch, history, seconds."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict(saved["net"])
    optimizer.load_state_dict(saved["optimizer"])
    schedule.load_state_dict(saved["schedule"])
    generator.set_state(saved["generator"])
    return {key: saved[key] for key in ("epoch", "history", "train_seconds")}


def _settings(config: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key != "out"}


def check_run_folder(config: DetectTrainConfig, run: Path) -> bool:
    """Whether ``run`` holds a finished run of ``config``'s settings; ``False`` for a new folder or an
    unfinished run of them. One ``ConfigError`` when it holds another run, which is never touched."""
    model = run / MODEL_FILE
    if model.exists() and read_detector_state(model) is None:
        raise ConfigError(f"{run} holds a model of another kind ({MODEL_FILE}); use another out folder")
    if (run / CONFIG_FILE).is_file():
        before = _settings(read_yaml_mapping(run / CONFIG_FILE, "run config"))
        after = _settings(config.model_dump(mode="json"))
        keys = differing_keys(before, after)
        if keys:
            raise ConfigError(
                f"{run} holds a run of other settings ({describe_difference(keys[0], before, after)}"
                f"{f' and {len(keys) - 1} more' if len(keys) > 1 else ''}); use another out folder for a new run"
            )
    return model.is_file() and (run / METRICS_FILE).is_file()


def initialise_from(net: DetectorNet, classes: Sequence[str], image_size: int, run: str | Path) -> str:
    """Load the weights of detect run ``run`` (its folder or ``model.pt``) into ``net``; its model, classes
    and image size must be this run's (else one ``ConfigError``). Returns the SHA-256 of the file read."""
    path = Path(run)
    model = path / MODEL_FILE if path.is_dir() else path
    if not model.is_file():
        raise ConfigError(f"init_from {str(run)!r} holds no {MODEL_FILE}; name a finished detect run folder")
    pretrained = load_detector_checkpoint(model)
    theirs = {"model": pretrained.net.config.model_dump(mode="json"), "classes": pretrained.classes}
    theirs["image_size"] = pretrained.image_size
    ours = {"model": net.config.model_dump(mode="json"), "classes": list(classes), "image_size": image_size}
    keys = differing_keys(theirs, ours)
    if keys:
        raise ConfigError(
            f"init_from {str(run)!r} was trained with other settings ({describe_difference(keys[0], theirs, ours)}); "
            f"set this config's model to {theirs['model']}, classes to {theirs['classes']} and image_size to "
            f"{theirs['image_size']}"
        )
    net.load_state_dict(pretrained.net.state_dict())
    return hashlib.sha256(model.read_bytes()).hexdigest()


def _reported(name: str, scores: DetectionScores, log: Log | None) -> dict[str, Any]:
    """``scores`` as a dict, shown through ``log`` under ``name`` first."""
    if log is not None:
        log(f"{name}:\n{scores.format()}")
    return scores.as_dict()


def train_detector(source: str | Path | Mapping[str, Any] | DetectTrainConfig, log: Log | None = None) -> Path:
    """Train a detector as the config says; returns the run folder (see the module docstring)."""
    config = load_detect_config(source)
    run = Path(config.out)
    if check_run_folder(config, run):
        if log is not None:
            log(f"{run} holds a finished detect run of these settings; nothing to train")
        return run
    data_path, generate_seconds = ensure_data(config.data, run / "data", log)
    size = input_size(config, data_path)
    data = load_detection_data(data_path, config.classes, size)
    if len(data) < 2:
        raise ConfigError(f"{data_path} holds {len(data)} image(s); training needs at least 2")
    train_rows, val_rows = split_indices(len(data), config.val_fraction, config.seed)
    with torch.random.fork_rng(devices=[]):  # weights from the seed; the caller's torch RNG kept
        torch.manual_seed(config.seed)
        net = DetectorNet(len(config.classes), config.model)
    init_sha256 = None if config.init_from is None else initialise_from(net, config.classes, size, config.init_from)
    write_run_files(config.model_dump(mode="json"), run)  # once data and weights are right: a fixed config reruns
    metrics = fit(net, data, train_rows, config, log, val_rows=val_rows, run=run)
    settings = config.model_copy(update={"image_size": size}).model_dump(mode="json")
    save_detector_checkpoint(run / MODEL_FILE, net, config.classes, size, settings)
    metrics.update(kind=KIND, data=str(data_path), generate_seconds=generate_seconds, threads=config.threads)
    metrics.update(parameters=sum(p.numel() for p in net.parameters()), image_size=size, val_images=len(val_rows))
    metrics.update(init_from=config.init_from, init_sha256=init_sha256)
    metrics["val"] = None
    if len(val_rows):
        metrics["val"] = _reported("held-out split", score(net, data, val_rows, config.max_detections), log)
    metrics["eval"] = {}
    for name, spec in config.eval.items():
        path, _ = ensure_data(spec, run / f"eval_{name}", log)
        eval_data = load_detection_data(path, config.classes, size, require_classes=False)
        scores = score(net, eval_data, np.arange(len(eval_data)), config.max_detections)
        metrics["eval"][name] = _reported(name, scores, log)
    (run / METRICS_FILE).write_text(json.dumps(metrics, indent=1) + "\n")
    return run


# -- evaluation ---------------------------------------------------------------------------------------
def truth(data: DetectionData, rows: np.ndarray) -> list[ImageBoxes]:
    """The true boxes of the images ``rows`` of ``data`` (each the tight box of its instance mask)."""
    result = []
    for i in rows:
        sample = data.sample(int(i))
        height, width = sample.instance.shape
        result.append(
            ImageBoxes(
                image_id=int(data.index[i]),
                width=width,
                height=height,
                boxes=sample.boxes.astype(np.float64),
                classes=sample.classes,
                areas=sample.pixels.astype(np.float64),
            )
        )
    return result


def detect(net: DetectorNet, data: DetectionData, rows: np.ndarray, max_detections: int) -> list[Detections]:
    """The ``max_detections`` best boxes of ``net`` on each image ``rows`` of ``data``."""
    images = torch.from_numpy(data.rgb[rows]).permute(0, 3, 1, 2)
    found = predict(net, images, max_detections, EVAL_BATCH)
    return [
        Detections(
            image_id=int(data.index[i]),
            boxes=found.boxes[n].numpy().astype(np.float64),
            scores=found.scores[n].numpy().astype(np.float64),
            classes=found.classes[n].numpy(),
        )
        for n, i in enumerate(rows)
    ]


def score(
    net: DetectorNet, data: DetectionData, rows: np.ndarray, max_detections: int, seed: int = 0
) -> DetectionScores:
    """COCO scores (``dr_sim.detection.metrics.coco_scores``) of ``net`` on the images ``rows`` of ``data``."""
    rows = np.asarray(rows, dtype=np.int64)
    return coco_scores(truth(data, rows), detect(net, data, rows, max_detections), data.classes, seed=seed)


def evaluate_detector(
    run: str | Path, datasets: Mapping[str, str | Path], seed: int = 0, sheets: Mapping[str, str | Path] | None = None
) -> dict[str, DetectionScores]:
    """Score a detect run (its folder or model file) on data set folders: name -> scores. ``sheets``
    (name -> PNG path): draw the first ``SHEET_IMAGES`` images of those sets with their boxes there."""
    if not datasets:
        raise ConfigError("give at least one data set to evaluate on (--data DIR)")
    path = Path(run)
    checkpoint = load_detector_checkpoint(path / MODEL_FILE if path.is_dir() else path)
    config = load_detect_config(checkpoint.config)
    scores = {}
    for name, root in datasets.items():
        data = load_detection_data(root, checkpoint.classes, checkpoint.image_size, require_classes=False)
        rows = np.arange(len(data))
        boxes, found = truth(data, rows), detect(checkpoint.net, data, rows, config.max_detections)
        scores[name] = coco_scores(boxes, found, checkpoint.classes, seed=seed)
        if sheets and name in sheets:
            shown = slice(0, SHEET_IMAGES)
            images = list(data.rgb[shown])
            detection_sheet(
                images,
                boxes[shown],
                found[shown],
                checkpoint.classes,
                sheets[name],
                score_threshold=config.score_threshold,
            )
    return scores


def is_detect_run(run: str | Path) -> bool:
    """Whether ``run`` holds (or is) a detector checkpoint."""
    path = Path(run)
    return read_detector_state(path / MODEL_FILE if path.is_dir() else path) is not None


# -- command line -------------------------------------------------------------------------------------
def format_detect_scores(scores: Mapping[str, DetectionScores]) -> str:
    """Each data set's scores as text, under its name."""
    return "\n\n".join(f"{name}:\n{result.format()}" for name, result in scores.items())


def run_train(args: argparse.Namespace) -> int:
    """``dr-sim train CONFIG`` of ``kind: detect``: train, print the model file and the training speed (the
    ``eval`` data sets' scores are logged as training ends)."""
    train_from_arguments(args, train_detector)
    return 0


def add_evaluate_arguments(parser: argparse.ArgumentParser, *, shared: bool = True) -> None:
    """``dr-sim evaluate RUN --data [NAME=]DIR ... [--json] [--sheet PATH]``: a detect run's options."""
    add_pose_evaluate_arguments(parser, shared=shared)
    parser.add_argument(
        "--sheet",
        default=None,
        metavar="PATH",
        help="detect runs: PNG of the first images with their boxes (default RUN/detections_<name>.png; "
        "with several --data, <name> is added to PATH's stem)",
    )


def sheet_paths(run: str | Path, names: Sequence[str], sheet: str | Path | None) -> dict[str, Path]:
    """Where ``run_evaluate`` draws each data set's sheet (see ``add_evaluate_arguments``)."""
    if sheet is None:
        folder = Path(run) if Path(run).is_dir() else Path(run).parent
        return {name: folder / f"detections_{name}.png" for name in names}
    path = Path(sheet)
    if len(names) == 1:
        return {names[0]: path}
    return {name: path.with_name(f"{path.stem}_{name}{path.suffix or '.png'}") for name in names}


def run_evaluate(args: argparse.Namespace) -> int:
    """``dr-sim evaluate RUN --data DIR``: COCO AP with bootstrap intervals per data set, and a sheet."""
    if not args.data:
        raise ConfigError("a detect run is scored on data sets: give --data DIR (repeatable, NAME=DIR to name it)")
    datasets = named_data_sets(args.data)
    sheets = sheet_paths(args.run, list(datasets), args.sheet)
    scores = evaluate_detector(args.run, datasets, sheets=sheets)
    if args.json:
        print(json.dumps({name: result.as_dict() for name, result in scores.items()}))
    else:
        print(format_detect_scores(scores))
        print("sheets: " + ", ".join(str(path) for path in sheets.values()), file=sys.stderr)
    return 0
