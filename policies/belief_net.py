"""A small fully convolutional network that draws belief maps of an object's 9 keypoints (DOPE-style).

Trained from scratch on a CPU (``dr_sim.policies.belief_training``): an RGB image (N, 3, H, W), uint8 or
float in [0, 1], plus two CoordConv channels, goes through one of two encoders (``architecture``) to
maps at ``STRIDE`` = 4 px per cell:

- ``dilated``: a 5x5 stride-2 and a 3x3 stride-2 conv (``stem`` wide), then ``context`` 3x3 convs with
  dilations 1, 2, 4, 8, ... (a receptive field that covers a small object and its surroundings at
  64-128 px), each with batch norm, ReLU and a residual connection;
- ``pyramid``: 3x3 convs at strides 2, 4, 8 and 16 (``widths``; the deepest with a dilation-2 conv, a
  receptive field over most of a 128 px image), then a decoder back to stride 4 (nearest upsampling of
  a 1x1 conv added to the encoder's map of that stride, then a 3x3 conv, the last ``head`` wide). Image
  sides must be multiples of 16 px. Cheaper than ``dilated`` on a CPU and wider where it matters.

A 1x1 conv then draws the 9 belief maps (8 box corners, then the centroid; ``dr_sim.pose.keypoints``)
and, with ``corner_offsets``, 16 more channels: at each cell, each corner's (x, y) from the centroid in
units of ``OFFSET_UNIT`` px (CenterPose's displacements, Lin et al. 2022). A small object's corners lie
a cell or two apart, off its silhouette, where a corner map must guess from local features; the
centroid's cell sees the whole object, so its offsets give the corners (measured on the pose study's
duck, about 23 x 26 px at 128 px: median corner errors of 1.4 px on its training images against 3-4 px
for the corner maps of the same network, and 5-14 px for the ``dilated`` network's).

The targets are Gaussians of peak 1 and ``sigma`` cells at the labelled keypoints (``gaussian_targets``,
the torch twin of ``dr_sim.pose.keypoints.gaussian_maps``); the loss is their weighted squared error
(``belief_loss``), plus the L1 error of the offsets at the cells around the centroid (``offset_loss``). A
map's peak height is the keypoint's confidence. ``save_belief_checkpoint`` / ``load_belief_checkpoint``
keep the weights, the object's model points and the config in one file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from dr_sim.config.loader import validated
from dr_sim.config.params import StrictModel
from dr_sim.errors import ConfigError
from dr_sim.pose.keypoints import CORNERS, KEYPOINTS, OFFSET_UNIT

STRIDE = 4  # image pixels per belief-map cell
PYRAMID_MULTIPLE = 16  # the pyramid's deepest stride: its input sides must be multiples of it (px)
OFFSET_CHANNELS = 2 * CORNERS  # with corner_offsets: each corner's (x, y) from the centroid
OFFSET_CELLS = 0.3  # offsets are trained where the centroid's target map is at least this (cells near it)
CHECKPOINT_VERSION = 2  # 2: the encoder options (architecture, corner_offsets)
CHECKPOINT_KIND = "belief"


class BeliefNetConfig(StrictModel):
    """The architecture (see the module docstring): ``dilated`` (the two strided convs' widths ``stem``,
    the context depth, dilations 1, 2, 4, ... cycling up to ``max_dilation``) or ``pyramid`` (the widths
    at strides 2, 4, 8 and 16, and the last decoder conv's ``head``); ``corner_offsets`` adds the
    corners' offsets from the centroid."""

    architecture: Literal["dilated", "pyramid"] = "dilated"
    stem: list[int] = Field(default_factory=lambda: [32, 64], min_length=2, max_length=2)
    context: int = Field(default=4, ge=0, le=16)
    max_dilation: int = Field(default=8, ge=1, le=64)
    widths: list[int] = Field(default_factory=lambda: [16, 32, 64, 128], min_length=4, max_length=4)
    head: int = Field(default=64, ge=1, le=1024)
    corner_offsets: bool = False

    @model_validator(mode="after")
    def _positive_widths(self) -> BeliefNetConfig:
        for key in ("stem", "widths"):
            widths = getattr(self, key)
            if any(width < 1 or width > 1024 for width in widths):
                raise ValueError(f"{key} must be widths in 1..1024, got {widths}")
        return self


def belief_net_config(data: Any, origin: str = "model") -> BeliefNetConfig:
    """A validated ``BeliefNetConfig`` from a dict (``None``: the defaults); one ``ConfigError`` if bad."""
    return validated(BeliefNetConfig, {} if data is None else data, origin)


def conv_block(inputs: int, outputs: int, kernel: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    padding = dilation * (kernel // 2)
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, kernel, stride, padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
    )


class DilatedEncoder(nn.Module):
    """Image + CoordConv (N, 5, H, W) -> features at stride 4: two strided convs, then dilated context."""

    def __init__(self, config: BeliefNetConfig) -> None:
        super().__init__()
        first, width = config.stem
        self.stem = nn.Sequential(conv_block(3 + 2, first, 5, 2), conv_block(first, width, 3, 2))
        dilations, dilation = [], 1
        for _ in range(config.context):
            dilations.append(dilation)
            dilation = 1 if dilation * 2 > config.max_dilation else dilation * 2
        self.context = nn.ModuleList([conv_block(width, width, 3, dilation=d) for d in dilations])
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.context:
            x = x + block(x)
        return x


class PyramidEncoder(nn.Module):
    """Image + CoordConv (N, 5, H, W) -> features at stride 4: an encoder to stride 16 and a decoder back."""

    def __init__(self, config: BeliefNetConfig) -> None:
        super().__init__()
        w2, w4, w8, w16 = config.widths
        self.down4 = nn.Sequential(conv_block(3 + 2, w2, 3, 2), conv_block(w2, w4, 3, 2), conv_block(w4, w4, 3))
        self.down8 = nn.Sequential(conv_block(w4, w8, 3, 2), conv_block(w8, w8, 3))
        self.down16 = nn.Sequential(
            conv_block(w8, w16, 3, 2), conv_block(w16, w16, 3), conv_block(w16, w16, 3, dilation=2)
        )
        self.lateral8, self.merge8 = conv_block(w16, w8, 1), conv_block(w8, w8, 3)
        self.lateral4, self.merge4 = conv_block(w8, w4, 1), conv_block(w4, config.head, 3)
        self.width = config.head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h % PYRAMID_MULTIPLE or w % PYRAMID_MULTIPLE:
            raise ConfigError(
                f"the pyramid belief net needs image sides that are multiples of {PYRAMID_MULTIPLE} px, got {h} x {w}"
            )
        x4 = self.down4(x)
        x8 = self.down8(x4)
        x16 = self.down16(x8)
        y8 = self.merge8(x8 + F.interpolate(self.lateral8(x16), scale_factor=2.0, mode="nearest"))
        return self.merge4(x4 + F.interpolate(self.lateral4(y8), scale_factor=2.0, mode="nearest"))


class BeliefNet(nn.Module):
    """Image (N, 3, H, W) -> belief maps (N, 9, H/4, W/4), then with ``corner_offsets`` the 16 offset
    channels (N, 25, H/4, W/4); see the module docstring."""

    def __init__(self, config: BeliefNetConfig | None = None) -> None:
        super().__init__()
        self.config = config or BeliefNetConfig()
        self.encoder = (PyramidEncoder if self.config.architecture == "pyramid" else DilatedEncoder)(self.config)
        outputs = KEYPOINTS + (OFFSET_CHANNELS if self.config.corner_offsets else 0)
        self.head = nn.Conv2d(self.encoder.width, outputs, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype == torch.uint8:
            images = images.float() / 255.0
        n, _, h, w = images.shape
        if h % STRIDE or w % STRIDE:
            raise ConfigError(f"BeliefNet needs image sides divisible by {STRIDE} px, got {h} x {w}")
        ys = torch.linspace(-1.0, 1.0, h, dtype=images.dtype, device=images.device)
        xs = torch.linspace(-1.0, 1.0, w, dtype=images.dtype, device=images.device)
        coords = torch.stack([xs.view(1, w).expand(h, w), ys.view(h, 1).expand(h, w)]).expand(n, -1, -1, -1)
        return self.head(self.encoder(torch.cat([images - 0.5, coords], dim=1)))


def gaussian_targets(
    uv: torch.Tensor, shape: tuple[int, int], stride: float = STRIDE, sigma: float = 1.0
) -> torch.Tensor:
    """Target maps (B, K, h, w): a Gaussian of peak 1 and ``sigma`` cells at each keypoint ``uv`` (B, K, 2)
    in image pixels; NaN keypoints give all-zero maps (as ``dr_sim.pose.keypoints.gaussian_maps``)."""
    h, w = shape
    cells = uv / stride - 0.5
    cols = torch.arange(w, dtype=uv.dtype, device=uv.device)
    rows = torch.arange(h, dtype=uv.dtype, device=uv.device)
    gx = torch.exp(-0.5 * ((cols.view(1, 1, w) - cells[..., :1]) / sigma) ** 2)
    gy = torch.exp(-0.5 * ((rows.view(1, 1, h) - cells[..., 1:]) / sigma) ** 2)
    return torch.nan_to_num(gy.unsqueeze(-1) * gx.unsqueeze(-2), nan=0.0)


def belief_loss(maps: torch.Tensor, target: torch.Tensor, positive_weight: float) -> torch.Tensor:
    """Mean squared error of belief maps, each cell's squared error weighted by ``1 + positive_weight x
    target``: a keypoint's Gaussian covers a few cells of each map, so a plain mean squared error is
    smallest for maps of zeros, from which no peak can be read."""
    return ((maps - target) ** 2 * (1.0 + positive_weight * target)).mean()


def offset_loss(outputs: torch.Tensor, keypoints: torch.Tensor, centroid_target: torch.Tensor) -> torch.Tensor:
    """Mean L1 error (in ``OFFSET_UNIT`` px) of the offset channels of ``outputs`` (B, 25, h, w) against
    each corner's offset from the centroid of ``keypoints`` (B, 9, 2; px), over the cells where the
    centroid's target map ``centroid_target`` (B, h, w) is at least ``OFFSET_CELLS``; images whose
    corners are not all labelled (NaN) are left out."""
    batch, _, h, w = outputs.shape
    offsets = outputs[:, KEYPOINTS:].view(batch, CORNERS, 2, h, w)
    truth = (keypoints[:, :CORNERS] - keypoints[:, CORNERS:]) / OFFSET_UNIT  # (B, 8, 2)
    labelled = torch.isfinite(truth).all(dim=2).all(dim=1)
    errors = (offsets - torch.nan_to_num(truth)[..., None, None]).abs().sum(dim=2).mean(dim=1)  # (B, h, w)
    weights = (centroid_target >= OFFSET_CELLS).float() * labelled.float().view(batch, 1, 1)
    return (errors * weights).sum() / weights.sum().clamp(min=1.0)


@torch.no_grad()
def predict_beliefs(net: BeliefNet, images: torch.Tensor, batch_size: int = 128) -> np.ndarray:
    """Belief maps (N, 9, h, w) float32 of (N, 3, H, W) images (with ``corner_offsets``, (N, 25, h, w):
    the offset channels after the maps), in eval mode, in batches."""
    was_training = net.training
    net.eval()
    try:
        out = [net(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    finally:
        net.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros((0, KEYPOINTS, 1, 1), np.float32)


def save_belief_checkpoint(path: str | Path, net: BeliefNet, model_points: np.ndarray, config: dict[str, Any]) -> Path:
    """Write the weights, the object's 9 model points (m, object frame) and ``config`` to ``path``."""
    path = Path(path)
    state = {
        "version": CHECKPOINT_VERSION,
        "kind": CHECKPOINT_KIND,
        "net": net.config.model_dump(mode="json"),
        "state_dict": net.state_dict(),
        "model_points": np.asarray(model_points, dtype=np.float64).tolist(),
        "config": config,
    }
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    return path


def load_belief_checkpoint(path: str | Path) -> tuple[BeliefNet, np.ndarray, dict[str, Any]]:
    """(net in eval mode, model points (9, 3), training config) of a ``save_belief_checkpoint`` file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"model file {str(path)!r} does not exist (train a belief model first)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds on a corrupt or foreign file
        raise ConfigError(f"{str(path)!r} is not a belief model checkpoint ({type(error).__name__})") from None
    if (
        not isinstance(state, dict)
        or state.get("kind") != CHECKPOINT_KIND
        or state.get("version") != CHECKPOINT_VERSION
    ):
        raise ConfigError(f"{str(path)!r} is not a belief model checkpoint (version {CHECKPOINT_VERSION})")
    net = BeliefNet(belief_net_config(state["net"], origin=str(path)))
    net.load_state_dict(state["state_dict"])
    net.eval()
    return net, np.asarray(state["model_points"], dtype=np.float64), state["config"]
