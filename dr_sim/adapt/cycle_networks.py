"""The networks of unpaired translation: CycleGAN's ResNet generator and the sim-trained segmenter.

``ResnetGenerator`` (Johnson 2016, as CycleGAN's): a 7x7 convolution to ``width`` channels, two stride-2
3x3 convolutions (``2 width``, ``4 width``), ``blocks`` residual blocks at a quarter of the image size,
two upsamplings back (nearest neighbour and a 3x3 convolution, which leaves no checkerboard), and a 7x7
convolution to RGB in [-1, 1] (tanh). Instance norm and reflection padding throughout, as CycleGAN.
Image sides must be multiples of 4 px. At 64 px and the default width 16 and 4 blocks: about 0.4 M
weights and 0.2 G multiply-adds an image.

With ``residual`` the generator learns a change of its input instead of a whole image: its last
convolution starts at zero and its output is ``tanh(atanh(x) + net(x))``, so a fresh generator is the
identity and a short CPU-sized training moves the look without first having to relearn the scene's
geometry (a fresh plain generator outputs noise that the cycle loss must slowly turn back into the input).

``Segmenter``: a ``dr_sim.adapt.networks.UNet`` read only through its heads: per-pixel class logits
(the data set's categories and the background) and, optionally, metric depth (m). Trained on the sim
side, then frozen: CyCADA's semantic consistency asks it to read the translated sim image as the
source labels say.

The discriminators are ``dr_sim.adapt.networks.PatchGAN`` on single images.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dr_sim.adapt.networks import UNet

SATURATION = 0.999  # inputs are clamped to +-this before atanh (a residual generator's identity path)


def _conv(inputs: int, outputs: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    """Reflection-padded convolution, instance norm, ReLU."""
    return [
        nn.ReflectionPad2d(kernel // 2),
        nn.Conv2d(inputs, outputs, kernel, stride=stride, bias=False),
        nn.InstanceNorm2d(outputs, affine=True),
        nn.ReLU(inplace=True),
    ]


class ResidualBlock(nn.Module):
    """x + (conv, norm, ReLU, conv, norm)(x), 3x3 reflection-padded convolutions."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_conv(width, width, 3),
            nn.ReflectionPad2d(1),
            nn.Conv2d(width, width, 3, bias=False),
            nn.InstanceNorm2d(width, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """RGB in [-1, 1] (N, 3, H, W) to RGB in [-1, 1] (N, 3, H, W); H and W multiples of 4 px."""

    factor = 4

    def __init__(self, width: int = 16, blocks: int = 4, residual: bool = False) -> None:
        super().__init__()
        self.residual = residual
        layers: list[nn.Module] = [
            *_conv(3, width, 7),
            *_conv(width, 2 * width, 3, 2),
            *_conv(2 * width, 4 * width, 3, 2),
        ]
        layers += [ResidualBlock(4 * width) for _ in range(blocks)]
        for inputs, outputs in ((4 * width, 2 * width), (2 * width, width)):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), *_conv(inputs, outputs, 3)]
        last = nn.Conv2d(width, 3, 7)
        if residual:
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        layers += [nn.ReflectionPad2d(3), last]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.factor or x.shape[-2] % self.factor:
            raise ValueError(f"image sides must be multiples of {self.factor} px, got {tuple(x.shape[-2:])}")
        if self.residual:
            return torch.tanh(torch.atanh(x.clamp(-SATURATION, SATURATION)) + self.net(x))
        return torch.tanh(self.net(x))


class Segmenter(UNet):
    """RGB in [-1, 1] (N, 3, H, W) to ``segmentation`` logits (N, classes, H, W) and, with ``depth``,
    ``depth`` (N, H, W) in metres."""

    def __init__(self, channels: Sequence[int], classes: int, depth: bool) -> None:
        super().__init__(channels, classes=classes, depth=depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """The class logits only."""
        assert self.segmentation is not None
        return self.segmentation(self.features(x))

    def heads(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``segmentation`` (logits) and, where the network has it, ``depth`` (m)."""
        out = self.forward_all(x)
        out.pop("rgb")
        return out
