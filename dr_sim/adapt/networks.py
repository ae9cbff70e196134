"""The translation networks: a U-Net generator with optional segmentation and depth heads, and a PatchGAN.

``UNet`` (Ronneberger 2015, as pix2pix's generator): an encoder of stride-2 3x3 convolutions (batch
norm, leaky ReLU) that halves the image ``len(channels)`` times, a decoder that doubles it back
(nearest-neighbour upsampling, 3x3 convolution, batch norm, ReLU) with a skip connection from the
encoder level of the same size, and 1x1 heads: RGB in [-1, 1] (tanh), and optionally per-pixel class
logits (``classes``) and metric depth (metres, through a softplus so it stays positive). At 64 px the
default widths (16, 32, 64, 128) go down to 4 x 4 cells.

``PatchGAN`` (Isola 2017): stride-2 4x4 convolutions and a final 4x4 convolution to one logit per
overlapping patch (about 34 px at the default three levels) judging whether that patch is real. Its
input is an image (RCAN's adversarial loss: is this canonical image real?) or an image pair stacked on
the channel axis (pix2pix: is this (input, output) pair real?).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

UNET_CHANNELS = (16, 32, 64, 128)
PATCH_CHANNELS = (32, 64, 128)
SLOPE = 0.2  # of the leaky ReLUs


def _down(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.LeakyReLU(SLOPE, inplace=True),
    )


def _up(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """RGB in [-1, 1] (N, 3, H, W) to RGB in [-1, 1], plus class logits (N, classes, H, W) and depth
    (N, 1, H, W) in metres when asked for; H and W must be multiples of ``2 ** len(channels)``."""

    def __init__(self, channels: Sequence[int] = UNET_CHANNELS, classes: int = 0, depth: bool = False) -> None:
        super().__init__()
        widths = [3, *channels]
        self.down = nn.ModuleList(_down(widths[i], widths[i + 1]) for i in range(len(channels)))
        # Level i of the decoder takes the deeper features (and, below the top, the skip of its size).
        self.up = nn.ModuleList(
            _up(channels[i] * (1 if i == len(channels) - 1 else 2), channels[i - 1] if i else channels[0])
            for i in reversed(range(len(channels)))
        )
        top = channels[0] + 3  # the last upsampling's output beside the input image
        self.rgb = nn.Conv2d(top, 3, 1)
        self.segmentation = nn.Conv2d(top, classes, 1) if classes else None
        self.depth = nn.Conv2d(top, 1, 1) if depth else None
        self.factor = 2 ** len(channels)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's full-resolution features (N, channels[0] + 3, H, W)."""
        if x.shape[-1] % self.factor or x.shape[-2] % self.factor:
            raise ValueError(f"image sides must be multiples of {self.factor} px, got {tuple(x.shape[-2:])}")
        skips = []
        h = x
        for block in self.down:
            h = block(h)
            skips.append(h)
        h = self.up[0](skips.pop())
        for block in self.up[1:]:
            h = block(torch.cat([h, skips.pop()], dim=1))
        return torch.cat([h, x], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The translated RGB only (what ``apply`` needs)."""
        return torch.tanh(self.rgb(self.features(x)))

    def forward_all(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``rgb`` and, where the network has them, ``segmentation`` (logits) and ``depth`` (m)."""
        h = self.features(x)
        out = {"rgb": torch.tanh(self.rgb(h))}
        if self.segmentation is not None:
            out["segmentation"] = self.segmentation(h)
        if self.depth is not None:
            out["depth"] = nn.functional.softplus(self.depth(h)).squeeze(1)
        return out


class PatchGAN(nn.Module):
    """Images (N, inputs, H, W) to one real/fake logit per patch (N, 1, h, w)."""

    def __init__(self, inputs: int = 3, channels: Sequence[int] = PATCH_CHANNELS) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = inputs
        for i, width in enumerate(channels):
            layers.append(nn.Conv2d(previous, width, 4, stride=2, padding=1, bias=i == 0))
            if i:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.LeakyReLU(SLOPE, inplace=True))
            previous = width
        layers.append(nn.Conv2d(previous, 1, 4, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
