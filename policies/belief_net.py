"""A small fully convolutional network that draws belief maps of an object's 9 keypoints (DOPE-style).

Trained from scratch on a CPU (``dr_sim.policies.belief_training``): an RGB image (N, 3, H, W), uint8 or
float in [0, 1], plus two CoordConv channels, goes through

- a 5x5 stride-2 and a 3x3 stride-2 conv (H/4 x W/4 maps: ``STRIDE`` = 4 px per cell), then
- ``context`` 3x3 convs with dilations 1, 2, 4, 8, ... (a receptive field that covers a small object
  and its surroundings at 64-128 px), each with batch norm and ReLU and a residual connection, and
- a 1x1 conv to 9 belief maps (8 box corners, then the centroid; ``dr_sim.pose.keypoints``).

The targets are Gaussians of peak 1 and ``sigma`` cells at the labelled keypoints (``gaussian_targets``,
the torch twin of ``dr_sim.pose.keypoints.gaussian_maps``); the loss is their mean squared error (DOPE's
L2). A map's peak height is the keypoint's confidence. ``save_belief_checkpoint`` /
``load_belief_checkpoint`` keep the weights, the object's model points and the config in one file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import nn

from dr_sim.config.loader import validated
from dr_sim.config.params import StrictModel
from dr_sim.errors import ConfigError
from dr_sim.pose.keypoints import KEYPOINTS

STRIDE = 4  # image pixels per belief-map cell
CHECKPOINT_VERSION = 1
CHECKPOINT_KIND = "belief"


class BeliefNetConfig(StrictModel):
    """The architecture: the two strided convs' widths, the context width and depth (dilations 1, 2, 4,
    ... cycling up to ``max_dilation``)."""

    stem: list[int] = Field(default_factory=lambda: [32, 64], min_length=2, max_length=2)
    context: int = Field(default=4, ge=0, le=16)
    max_dilation: int = Field(default=8, ge=1, le=64)

    @model_validator(mode="after")
    def _positive_widths(self) -> BeliefNetConfig:
        if any(width < 1 or width > 1024 for width in self.stem):
            raise ValueError(f"stem must be two widths in 1..1024, got {self.stem}")
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


class BeliefNet(nn.Module):
    """Image (N, 3, H, W) -> belief maps (N, 9, H/4, W/4); see the module docstring."""

    def __init__(self, config: BeliefNetConfig | None = None) -> None:
        super().__init__()
        self.config = config or BeliefNetConfig()
        first, width = self.config.stem
        self.stem = nn.Sequential(conv_block(3 + 2, first, 5, 2), conv_block(first, width, 3, 2))
        dilations, dilation = [], 1
        for _ in range(self.config.context):
            dilations.append(dilation)
            dilation = 1 if dilation * 2 > self.config.max_dilation else dilation * 2
        self.context = nn.ModuleList([conv_block(width, width, 3, dilation=d) for d in dilations])
        self.head = nn.Conv2d(width, KEYPOINTS, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype == torch.uint8:
            images = images.float() / 255.0
        n, _, h, w = images.shape
        if h % STRIDE or w % STRIDE:
            raise ConfigError(f"BeliefNet needs image sides divisible by {STRIDE} px, got {h} x {w}")
        ys = torch.linspace(-1.0, 1.0, h, dtype=images.dtype, device=images.device)
        xs = torch.linspace(-1.0, 1.0, w, dtype=images.dtype, device=images.device)
        coords = torch.stack([xs.view(1, w).expand(h, w), ys.view(h, 1).expand(h, w)]).expand(n, -1, -1, -1)
        x = self.stem(torch.cat([images - 0.5, coords], dim=1))
        for block in self.context:
            x = x + block(x)
        return self.head(x)


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


@torch.no_grad()
def predict_beliefs(net: BeliefNet, images: torch.Tensor, batch_size: int = 128) -> np.ndarray:
    """Belief maps (N, 9, h, w) float32 of (N, 3, H, W) images, in eval mode, in batches."""
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
