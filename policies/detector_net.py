"""A small CenterNet-style detector of several object classes (Zhou et al. 2019, "Objects as Points").

Trained from scratch on a CPU (``dr_sim.policies.detector_training``). An RGB image (N, 3, H, W), uint8
or float in [0, 1], H and W multiples of ``INPUT_MULTIPLE`` px, goes through a small encoder-decoder:

- an encoder of 3x3 convs (batch norm, ReLU) at strides 2, 4, 8 and 16 (``widths``), a second conv at
  strides 8 and 16 (a receptive field over most of a 96-160 px image), then
- a decoder back to stride 4 (``STRIDE`` = 4 px per cell): nearest upsampling of a 1x1 conv, added to
  the encoder's map of that stride, then a 3x3 conv (the last one ``head`` wide), and
- three 1x1 heads per cell: C class heatmaps (logits; the bias starts at ``HEATMAP_BIAS``, a prior of
  0.1, as CenterNet), the box's log width and log height (pixels) and the box centre's offset within
  its cell (cells, in [0, 1) when trained).

Plain 3x3 convs rather than the belief net's dilated context (``dr_sim.policies.belief_net``): on a
2-core CPU a dilation-8 conv takes about 4x the time of an undilated one of the same size.

Targets (``encode_targets``): per object, a Gaussian of peak 1 on its class's heatmap at the cell of
its box centre, its standard deviation a sixth of CenterNet's diameter ``2 r + 1`` (``gaussian_radius``:
the centre shift that keeps an IoU of ``MIN_OVERLAP``), the maps' maximum where Gaussians meet; the
box's log size and the centre's sub-cell offset at that cell. Losses (``detection_loss``): CenterNet's
penalty-reduced focal loss on the heatmaps, L1 on log size and offset at the centres. Decoding
(``decode``): a 3x3 max-pool keeps each heatmap's local peaks, the ``k`` highest of all classes become
boxes ``[x_min, y_min, x_max, y_max]`` in pixel edges (pixel (u, v) spans [u, u + 1) x [v, v + 1), as
``dr_sim.scene.labels``), clipped to the image.

``save_detector_checkpoint`` / ``load_detector_checkpoint`` keep the weights, the class names, the input
size (px) and the training config in one file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from dr_sim.config.loader import validated
from dr_sim.config.params import StrictModel
from dr_sim.errors import ConfigError
from dr_sim.policies.belief_net import conv_block

STRIDE = 4  # image pixels per output cell
INPUT_MULTIPLE = 16  # the encoder's deepest stride: input sides must be multiples of it (px)
HEATMAP_BIAS = -2.19  # logit of 0.1, CenterNet's initial heatmap value
MIN_OVERLAP = 0.7  # IoU that a centre shifted by the Gaussian's radius still keeps (CenterNet)
FOCAL_ALPHA, FOCAL_BETA = 2.0, 4.0  # CenterNet's focal exponents: the prediction's and the target's
CHECKPOINT_VERSION = 1
CHECKPOINT_KIND = "detect"


class DetectorNetConfig(StrictModel):
    """The architecture: the encoder's widths at strides 2, 4, 8 and 16, and the last decoder conv's."""

    widths: list[int] = Field(default_factory=lambda: [16, 24, 48, 64], min_length=4, max_length=4)
    head: int = Field(default=32, ge=1, le=1024)

    @model_validator(mode="after")
    def _positive_widths(self) -> DetectorNetConfig:
        if any(width < 1 or width > 1024 for width in self.widths):
            raise ValueError(f"widths must be four widths in 1..1024, got {self.widths}")
        return self


def detector_net_config(data: Any, origin: str = "model") -> DetectorNetConfig:
    """A validated ``DetectorNetConfig`` from a dict (``None``: the defaults); one ``ConfigError`` if bad."""
    return validated(DetectorNetConfig, {} if data is None else data, origin)


class DetectorOutput(NamedTuple):
    """What the network draws, per cell of a (h, w) = (H / 4, W / 4) map."""

    heatmap: torch.Tensor  # (N, C, h, w) logits of an object centre of each class
    size: torch.Tensor  # (N, 2, h, w) log of the box's width and height (px)
    offset: torch.Tensor  # (N, 2, h, w) the box centre's (x, y) within the cell (cells)


class DetectorNet(nn.Module):
    """Image (N, 3, H, W) -> ``DetectorOutput`` of ``classes`` heatmaps; see the module docstring."""

    def __init__(self, classes: int, config: DetectorNetConfig | None = None) -> None:
        super().__init__()
        if classes < 1:
            raise ConfigError(f"a detector needs at least one class, got {classes}")
        self.classes = classes
        self.config = config or DetectorNetConfig()
        w2, w4, w8, w16 = self.config.widths
        self.down4 = nn.Sequential(conv_block(3, w2, 3, 2), conv_block(w2, w4, 3, 2))
        self.down8 = nn.Sequential(conv_block(w4, w8, 3, 2), conv_block(w8, w8, 3))
        self.down16 = nn.Sequential(conv_block(w8, w16, 3, 2), conv_block(w16, w16, 3))
        self.lateral8, self.merge8 = conv_block(w16, w8, 1), conv_block(w8, w8, 3)
        self.lateral4, self.merge4 = conv_block(w8, w4, 1), conv_block(w4, self.config.head, 3)
        self.heatmap = nn.Conv2d(self.config.head, classes, 1)
        self.size = nn.Conv2d(self.config.head, 2, 1)
        self.offset = nn.Conv2d(self.config.head, 2, 1)
        bias = self.heatmap.bias
        assert bias is not None  # a Conv2d has one unless told otherwise
        nn.init.constant_(bias, HEATMAP_BIAS)

    def forward(self, images: torch.Tensor) -> DetectorOutput:
        if images.dtype == torch.uint8:
            images = images.float() / 255.0
        h, w = images.shape[-2:]
        if h % INPUT_MULTIPLE or w % INPUT_MULTIPLE:
            raise ConfigError(
                f"the detector needs image sides that are multiples of {INPUT_MULTIPLE} px, got {h} x {w}"
            )
        x4 = self.down4(images - 0.5)
        x8 = self.down8(x4)
        x16 = self.down16(x8)
        y8 = self.merge8(x8 + F.interpolate(self.lateral8(x16), scale_factor=2.0, mode="nearest"))
        y4 = self.merge4(x4 + F.interpolate(self.lateral4(y8), scale_factor=2.0, mode="nearest"))
        return DetectorOutput(self.heatmap(y4), self.size(y4), self.offset(y4))


# -- targets ------------------------------------------------------------------------------------------
def gaussian_radius(width: float, height: float, min_overlap: float = MIN_OVERLAP) -> float:
    """The largest shift r (in the units of ``width`` and ``height``) of a box's corners that keeps an IoU
    of at least ``min_overlap`` with the box, whichever way they move (CornerNet's three cases: both
    corners the same way, both inwards, both outwards); the smallest root of each case's quadratic."""
    total, area = width + height, width * height
    both = (total - math.sqrt(total**2 - 4 * area * (1 - min_overlap) / (1 + min_overlap))) / 2
    inwards = (2 * total - math.sqrt(4 * total**2 - 16 * (1 - min_overlap) * area)) / 8
    outwards = (
        -2 * min_overlap * total
        + math.sqrt(4 * (min_overlap * total) ** 2 + 16 * min_overlap * (1 - min_overlap) * area)
    ) / (8 * min_overlap)
    return max(0.0, min(both, inwards, outwards))


@dataclass(frozen=True)
class ImageTargets:
    """One image's targets on a (h, w) map: ``heatmap`` (C, h, w) float32, and per object ``cell`` (n,)
    int64 (row * w + column of its centre), ``size`` (n, 2) float32 log width and height (px) and
    ``offset`` (n, 2) float32 (x, y) of its centre within the cell (cells)."""

    heatmap: np.ndarray
    cell: np.ndarray
    size: np.ndarray
    offset: np.ndarray


def encode_targets(
    boxes: np.ndarray, classes: np.ndarray, num_classes: int, shape: tuple[int, int], stride: int = STRIDE
) -> ImageTargets:
    """The CenterNet targets (see the module docstring) of boxes (n, 4) ``[x_min, y_min, x_max, y_max]``
    (pixel edges, each at least one pixel wide and high) of ``classes`` (n,) on a map of ``shape`` cells."""
    h, w = shape
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    heatmap = np.zeros((num_classes, h, w), dtype=np.float32)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2 / stride  # cells
    cells = np.clip(np.floor(centre).astype(np.int64), 0, [w - 1, h - 1])
    sizes = boxes[:, 2:] - boxes[:, :2]
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
    for (col, row), (width, height), label in zip(cells, sizes / stride, np.asarray(classes), strict=True):
        sigma = (2 * gaussian_radius(width, height) + 1) / 6
        blob = np.exp(-((cols - col) ** 2 + (rows - row) ** 2) / (2 * sigma**2))
        np.maximum(heatmap[label], blob.astype(np.float32), out=heatmap[label])
    return ImageTargets(
        heatmap,
        cells[:, 1] * w + cells[:, 0],
        np.log(sizes).astype(np.float32),
        (centre - cells).astype(np.float32),
    )


@dataclass(frozen=True)
class BatchTargets:
    """``ImageTargets`` of a batch as tensors, the object lists padded to the longest: ``heatmap``
    (B, C, h, w), ``cell`` (B, M), ``size`` and ``offset`` (B, M, 2), ``mask`` (B, M) the real objects."""

    heatmap: torch.Tensor
    cell: torch.Tensor
    size: torch.Tensor
    offset: torch.Tensor
    mask: torch.Tensor


def stack_targets(targets: Sequence[ImageTargets]) -> BatchTargets:
    """The targets of several images as one ``BatchTargets``."""
    most = max([len(t.cell) for t in targets] + [1])
    cell = np.zeros((len(targets), most), dtype=np.int64)
    size = np.zeros((len(targets), most, 2), dtype=np.float32)
    offset = np.zeros((len(targets), most, 2), dtype=np.float32)
    mask = np.zeros((len(targets), most), dtype=bool)
    for i, target in enumerate(targets):
        n = len(target.cell)
        cell[i, :n], size[i, :n], offset[i, :n], mask[i, :n] = target.cell, target.size, target.offset, True
    heatmap = np.stack([t.heatmap for t in targets])
    return BatchTargets(*(torch.from_numpy(a) for a in (heatmap, cell, size, offset, mask)))


# -- losses -------------------------------------------------------------------------------------------
def focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss of heatmap logits against Gaussian targets (peak 1 at each
    centre), summed and divided by the number of centres (at least 1)."""
    centre = target.eq(1.0).float()
    log_p, log_not_p = F.logsigmoid(logits), F.logsigmoid(-logits)
    p = torch.sigmoid(logits)
    positive = -(((1 - p) ** FOCAL_ALPHA) * log_p * centre).sum()
    negative = -(((1 - target) ** FOCAL_BETA) * (p**FOCAL_ALPHA) * log_not_p * (1 - centre)).sum()
    return (positive + negative) / centre.sum().clamp(min=1.0)


def _at_cells(maps: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
    """Values (B, M, K) of maps (B, K, h, w) at flat cells (B, M)."""
    flat = maps.flatten(2)
    return flat.gather(2, cell.unsqueeze(1).expand(-1, flat.shape[1], -1)).transpose(1, 2)


def detection_loss(
    output: DetectorOutput, targets: BatchTargets, size_weight: float = 1.0, offset_weight: float = 1.0
) -> tuple[torch.Tensor, dict[str, float]]:
    """(total, parts): the heatmaps' focal loss plus ``size_weight`` x the mean L1 of log size and
    ``offset_weight`` x the mean L1 of the offset, both at the objects' centre cells."""
    heat = focal_loss(output.heatmap, targets.heatmap)
    mask = targets.mask.unsqueeze(-1).float()
    count = (mask.sum() * 2).clamp(min=1.0)
    size = ((_at_cells(output.size, targets.cell) - targets.size).abs() * mask).sum() / count
    offset = ((_at_cells(output.offset, targets.cell) - targets.offset).abs() * mask).sum() / count
    total = heat + size_weight * size + offset_weight * offset
    return total, {"heatmap": float(heat.detach()), "size": float(size.detach()), "offset": float(offset.detach())}


# -- decoding -----------------------------------------------------------------------------------------
class Decoded(NamedTuple):
    """The top ``k`` boxes of each image of a batch, best first."""

    boxes: torch.Tensor  # (B, k, 4) [x_min, y_min, x_max, y_max], pixel edges
    scores: torch.Tensor  # (B, k) in [0, 1]
    classes: torch.Tensor  # (B, k) int64 class indices


def decode(output: DetectorOutput, image_size: tuple[int, int], k: int = 100, stride: int = STRIDE) -> Decoded:
    """Boxes of the ``k`` highest heatmap peaks (a cell that is the maximum of its 3x3 neighbourhood) of
    all classes of each image, in an image of ``image_size`` (height, width) px; see the module docstring."""
    heat = torch.sigmoid(output.heatmap)
    classes, h, w = heat.shape[1:]
    peaks = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat)
    scores, index = peaks.flatten(1).topk(min(k, classes * h * w))
    cell = index % (h * w)
    size = _at_cells(output.size, cell).exp()
    centre = (torch.stack([cell % w, cell // w], dim=-1).to(size.dtype) + _at_cells(output.offset, cell)) * stride
    limit = torch.tensor([image_size[1], image_size[0]] * 2, dtype=size.dtype)
    boxes = torch.minimum(torch.cat([centre - size / 2, centre + size / 2], dim=-1).clamp(min=0.0), limit)
    return Decoded(boxes, scores, index // (h * w))


@torch.no_grad()
def predict(net: DetectorNet, images: torch.Tensor, k: int = 100, batch_size: int = 64) -> Decoded:
    """``decode`` of the network's output on (N, 3, H, W) images, in eval mode, in batches."""
    was_training = net.training
    net.eval()
    try:
        parts = [
            decode(net(images[i : i + batch_size]), (images.shape[-2], images.shape[-1]), k)
            for i in range(0, len(images), batch_size)
        ]
    finally:
        net.train(was_training)
    if not parts:
        return Decoded(torch.zeros((0, k, 4)), torch.zeros((0, k)), torch.zeros((0, k), dtype=torch.int64))
    return Decoded(*(torch.cat(column) for column in zip(*parts, strict=True)))


# -- checkpoints --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DetectorCheckpoint:
    """What a detector checkpoint holds: the net (eval mode), its class names (in heatmap order), the
    input size it was trained at (px, square) and the training config."""

    net: DetectorNet
    classes: list[str]
    image_size: int
    config: dict[str, Any]


def save_detector_checkpoint(
    path: str | Path, net: DetectorNet, classes: Sequence[str], image_size: int, config: dict[str, Any]
) -> Path:
    """Write the weights, the class names, the input size (px) and ``config`` to ``path`` (atomically)."""
    if len(classes) != net.classes:
        raise ConfigError(f"{len(classes)} class names for a detector of {net.classes} classes")
    path = Path(path)
    state = {
        "version": CHECKPOINT_VERSION,
        "kind": CHECKPOINT_KIND,
        "net": net.config.model_dump(mode="json"),
        "classes": list(classes),
        "image_size": int(image_size),
        "state_dict": net.state_dict(),
        "config": config,
    }
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    return path


def read_detector_state(path: str | Path) -> dict[str, Any] | None:
    """The saved dict of a detector checkpoint file, or ``None`` when ``path`` is no such file."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch raises many kinds on a corrupt or foreign file
        return None
    if not isinstance(state, dict) or state.get("kind") != CHECKPOINT_KIND:
        return None
    return state


def load_detector_checkpoint(path: str | Path) -> DetectorCheckpoint:
    """The ``DetectorCheckpoint`` of a ``save_detector_checkpoint`` file; one ``ConfigError`` when the file
    is missing, is not a detector checkpoint of this version, or its weights do not fit its architecture."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"model file {str(path)!r} does not exist (train a detector first: kind: detect)")
    state = read_detector_state(path)
    if state is None or state.get("version") != CHECKPOINT_VERSION:
        raise ConfigError(f"{str(path)!r} is not a detector checkpoint (kind: detect, version {CHECKPOINT_VERSION})")
    net = DetectorNet(len(state["classes"]), detector_net_config(state["net"], origin=str(path)))
    try:
        net.load_state_dict(state["state_dict"])
    except RuntimeError:
        raise ConfigError(
            f"{str(path)!r}: its weights do not fit its stated architecture (model {state['net']}, "
            f"{len(state['classes'])} classes); the file is damaged or was written by other code"
        ) from None
    net.eval()
    return DetectorCheckpoint(net, list(state["classes"]), int(state["image_size"]), state["config"])
