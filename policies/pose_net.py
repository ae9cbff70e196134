"""A small CNN that regresses the target's world (x, y) in metres from one RGB image (Tobin et al. 2017).

Trained from scratch on a CPU, so it is built for precise positions with few weights, after Levine et
al.'s spatial soft-argmax ("deep spatial autoencoders", "end-to-end visuomotor policies"):

- input: an RGB image (N, 3, H, W), uint8 or float in [0, 1], plus two CoordConv channels (the pixel's
  column and row in [-1, 1]) so that every filter knows where it looks;
- ``channels``: 3x3 conv + batch norm + ReLU blocks, the first with a 5x5 kernel and stride 2
  (64 px in, 32 x 32 feature maps);
- a 1x1 conv to ``keypoints`` maps and a spatial soft-argmax: each map becomes the expected image
  position (x, y in [-1, 1]) of its softmax, a sub-pixel keypoint (the target, the table's corners, ...);
- an MLP from the keypoints (and the mean of the last features: the look of the scene) to the
  normalised (x, y).

Training (``dr_sim.policies.pose_training``) may supervise keypoints too, with labels that simulation
gives for free: keypoint 0 learns the target's pixels (its instance mask), keypoints 1..L the pixels of
fixed world points such as the table's corners (cues to the camera's pose); ``heatmap_loss``,
``mask_heatmap`` and ``point_heatmap`` build those terms. At test time the network sees the image only.

``TargetScaler`` holds the normalisation of the targets (mean and std per axis, m); ``save_checkpoint``
/ ``load_checkpoint`` keep the weights, the scaler and the configs together in one file.

``NetConfig`` holds the architecture's settings (``model:`` of a pose training config).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import nn

from dr_sim.config.loader import validated
from dr_sim.config.params import StrictModel
from dr_sim.errors import ConfigError

CHECKPOINT_VERSION = 1


class NetConfig(StrictModel):
    """The architecture: conv widths, keypoint maps, MLP width (units), and the image size (px)."""

    channels: list[int] = Field(default_factory=lambda: [16, 32, 32], min_length=1, max_length=8)
    keypoints: int = Field(default=16, ge=1, le=256)
    hidden: int = Field(default=128, ge=1, le=4096)
    image_size: int = Field(default=64, ge=16, le=512)

    @model_validator(mode="after")
    def _positive_widths(self) -> NetConfig:
        if any(width < 1 or width > 1024 for width in self.channels):
            raise ValueError(f"channels must be widths in 1..1024, got {self.channels}")
        return self


def net_config(data: Any, origin: str = "model") -> NetConfig:
    """A validated ``NetConfig`` from a dict (``None``: the defaults); one ``ConfigError`` if bad."""
    return validated(NetConfig, {} if data is None else data, origin)


class SpatialSoftArgmax(nn.Module):
    """(N, K, H, W) maps to (N, 2K) keypoints: the softmax-weighted mean column and row of each map in
    [-1, 1] (x of every map, then y), with a learned temperature."""

    def __init__(self) -> None:
        super().__init__()
        self.log_temperature = nn.Parameter(torch.zeros(()))

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        n, k, h, w = maps.shape
        weights = torch.softmax(maps.flatten(2) / self.log_temperature.exp(), dim=-1).view(n, k, h, w)
        xs = torch.linspace(-1.0, 1.0, w, device=maps.device, dtype=maps.dtype)
        ys = torch.linspace(-1.0, 1.0, h, device=maps.device, dtype=maps.dtype)
        return torch.cat([(weights.sum(2) * xs).sum(-1), (weights.sum(3) * ys).sum(-1)], dim=1)


def _conv_block(inputs: int, outputs: int, kernel: int, stride: int) -> list[nn.Module]:
    return [
        nn.Conv2d(inputs, outputs, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
    ]


class PoseNet(nn.Module):
    """Image (N, 3, H, W) -> normalised target (x, y) (N, 2); see the module docstring."""

    def __init__(self, config: NetConfig | None = None) -> None:
        super().__init__()
        self.config = config or NetConfig()
        widths = [3 + 2, *self.config.channels]
        layers: list[nn.Module] = []
        for i, (inputs, outputs) in enumerate(itertools.pairwise(widths)):
            layers += _conv_block(inputs, outputs, 5 if i == 0 else 3, 2 if i == 0 else 1)
        self.features = nn.Sequential(*layers)
        self.keypoint_maps = nn.Conv2d(widths[-1], self.config.keypoints, 1)
        self.soft_argmax = SpatialSoftArgmax()
        hidden = self.config.hidden
        self.head = nn.Sequential(
            nn.Linear(2 * self.config.keypoints + widths[-1], hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, 2),
        )
        size = self.config.image_size
        ramp = torch.linspace(-1.0, 1.0, size)
        coords = torch.stack([ramp.view(1, size).expand(size, size), ramp.view(size, 1).expand(size, size)])
        self.coords: torch.Tensor
        self.register_buffer("coords", coords.unsqueeze(0), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_with_maps(images)[0]

    def forward_with_maps(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(normalised (x, y) (N, 2), keypoint logits (N, K, h, w) divided by the temperature)."""
        if images.dtype == torch.uint8:
            images = images.float() / 255.0
        n, _, h, w = images.shape
        if (h, w) != tuple(self.coords.shape[-2:]):
            raise ConfigError(
                f"PoseNet expects {self.config.image_size} x {self.config.image_size} px images, got {h} x {w}"
            )
        x = torch.cat([images - 0.5, self.coords.expand(n, -1, -1, -1)], dim=1)
        features = self.features(x)
        maps = self.keypoint_maps(features)
        keypoints = self.soft_argmax(maps)
        xy = self.head(torch.cat([keypoints, features.mean(dim=(2, 3))], dim=1))
        return xy, maps / self.soft_argmax.log_temperature.exp()


@dataclass(frozen=True)
class TargetScaler:
    """Per-axis normalisation of target positions: ``(xy - mean) / std`` with mean and std in m."""

    mean: tuple[float, float]
    std: tuple[float, float]

    @classmethod
    def fit(cls, xy: np.ndarray) -> TargetScaler:
        """The mean and std (m) of (N, 2) positions; a std below 1 mm counts as 1 mm."""
        xy = np.asarray(xy, dtype=np.float64)
        mean, std = xy.mean(axis=0), np.maximum(xy.std(axis=0), 1e-3)
        return cls((float(mean[0]), float(mean[1])), (float(std[0]), float(std[1])))

    def encode(self, xy: torch.Tensor) -> torch.Tensor:
        """Positions (m) to normalised units."""
        return (xy - xy.new_tensor(self.mean)) / xy.new_tensor(self.std)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Normalised units to positions (m)."""
        return z * z.new_tensor(self.std) + z.new_tensor(self.mean)

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetScaler:
        return cls((float(data["mean"][0]), float(data["mean"][1])), (float(data["std"][0]), float(data["std"][1])))


def heatmap_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy between the softmax of keypoint logits (B, h, w) and ``target`` (B, h, w), non-negative
    weights normalised to sum 1 per image; images whose target is all zero do not count (0 if none)."""
    target = target.flatten(1)
    total = target.sum(1, keepdim=True)
    valid = total.squeeze(1) > 0
    if not bool(valid.any()):
        return logits.new_zeros(())
    log_p = torch.log_softmax(logits.flatten(1), dim=1)
    return -((target / total.clamp_min(1e-12)) * log_p).sum(1)[valid].mean()


def mask_heatmap(mask: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Masks (B, H, W) pooled to ``shape`` (h, w): the fraction of each cell the object covers."""
    return torch.nn.functional.adaptive_avg_pool2d(mask.float().unsqueeze(1), shape).squeeze(1)


def point_heatmap(uv: torch.Tensor, image_size: int, shape: tuple[int, int]) -> torch.Tensor:
    """Points (B, 2) in pixels (column, row; a pixel's centre at +0.5) to (B, h, w) bilinear weights on
    the cells of a ``shape`` map of a square ``image_size`` image; NaN points give all-zero maps."""
    h, w = shape
    out = uv.new_zeros((len(uv), h * w))
    seen = ~torch.isnan(uv).any(dim=1)
    if not bool(seen.any()):
        return out.view(-1, h, w)
    cells = uv[seen] * uv.new_tensor([w / image_size, h / image_size]) - 0.5  # cell coordinates
    cells = torch.stack([cells[:, 0].clamp(0, w - 1), cells[:, 1].clamp(0, h - 1)], dim=1)
    low = cells.floor().long()
    high = torch.minimum(low + 1, low.new_tensor([w - 1, h - 1]))
    frac = cells - low.to(cells.dtype)
    rows = torch.nonzero(seen).squeeze(1)
    for cx, fx in ((low[:, 0], 1 - frac[:, 0]), (high[:, 0], frac[:, 0])):
        for cy, fy in ((low[:, 1], 1 - frac[:, 1]), (high[:, 1], frac[:, 1])):
            out.index_put_((rows, cy * w + cx), fx * fy, accumulate=True)
    return out.view(-1, h, w)


def images_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 images to a (N, 3, H, W) uint8 tensor (no copy into float: 4x less memory)."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 4 or rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
        raise ConfigError(f"images must be (N, H, W, 3) uint8, got {rgb.shape} {rgb.dtype}")
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(0, 3, 1, 2)))


@torch.no_grad()
def predict_xy(net: PoseNet, scaler: TargetScaler, images: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """World (x, y) in metres (N, 2) of (N, 3, H, W) uint8 images, in eval mode, in batches."""
    was_training = net.training
    net.eval()
    try:
        out = [scaler.decode(net(images[i : i + batch_size])) for i in range(0, len(images), batch_size)]
    finally:
        net.train(was_training)
    return torch.cat(out).double().numpy() if out else np.zeros((0, 2))


def save_checkpoint(path: str | Path, net: PoseNet, scaler: TargetScaler, config: dict[str, Any]) -> Path:
    """Write the weights, the scaler and ``config`` (the training config, JSON types) to ``path``."""
    path = Path(path)
    state = {
        "version": CHECKPOINT_VERSION,
        "kind": "pose",
        "net": net.config.model_dump(mode="json"),
        "state_dict": net.state_dict(),
        "scaler": scaler.to_dict(),
        "config": config,
    }
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    return path


def load_checkpoint(path: str | Path) -> tuple[PoseNet, TargetScaler, dict[str, Any]]:
    """(net in eval mode, scaler, training config) of a checkpoint written by ``save_checkpoint``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"model file {str(path)!r} does not exist (train a pose model first)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds on a corrupt or foreign file
        raise ConfigError(f"{str(path)!r} is not a pose model checkpoint ({type(error).__name__})") from None
    if not isinstance(state, dict) or state.get("kind") != "pose" or state.get("version") != CHECKPOINT_VERSION:
        raise ConfigError(f"{str(path)!r} is not a pose model checkpoint (version {CHECKPOINT_VERSION})")
    net = PoseNet(net_config(state["net"], origin=str(path)))
    net.load_state_dict(state["state_dict"])
    net.eval()
    return net, TargetScaler.from_dict(state["scaler"]), state["config"]
