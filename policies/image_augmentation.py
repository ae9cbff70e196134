"""Random-shift image augmentation for off-policy RL from pixels (DrQ, Kostrikov et al. 2020; RAD, Laskin
et al. 2020), as stable-baselines3 replay buffers.

Each image of a sampled batch is padded by ``pad`` pixels on every side (edge pixels repeated) and cropped
back to its size at a random offset in ``[0, 2 * pad]`` on each axis: a shift of up to ``pad`` px, drawn
independently per image, for the observations and the next observations alike (DrQ with K = M = 1). The
stored transitions stay as they were; only the batches that the algorithm learns from are shifted, so
acting (``predict``) always sees the true image.

``ShiftReplayBuffer`` (Box image observations) and ``ShiftDictReplayBuffer`` (Dict observations: every
image entry is shifted, vectors are kept) are SB3 ``replay_buffer_class`` values; the training sets them
from the config's ``augmentation`` (``dr_sim.policies.rl_config``). Shifts are drawn from a
``numpy.random.Generator`` seeded with ``seed``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import DictReplayBuffer, ReplayBuffer
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first

DEFAULT_PAD = 4  # px, DrQ's shift for 84 px images

__all__ = ["DEFAULT_PAD", "ShiftDictReplayBuffer", "ShiftReplayBuffer", "random_shift"]


def random_shift(images: np.ndarray, pad: int, rng: np.random.Generator, channels_first: bool = True) -> np.ndarray:
    """``images`` (a batch: ``(B, C, H, W)``, or ``(B, H, W, C)`` with ``channels_first=False``), each shifted
    by its own random offset of up to ``pad`` px on each axis, edges repeated; same shape and dtype.

    Args:
        images: a batch of images of any dtype.
        pad: the largest shift in pixels (0: the images unchanged, as a copy).
        rng: where the offsets come from (two integers in ``[0, 2 * pad]`` per image).
        channels_first: the layout of ``images``.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"random_shift takes a batch of images (4 dimensions), got shape {images.shape}")
    if pad < 0:
        raise ValueError(f"pad must be >= 0 px, got {pad}")
    if pad == 0:
        return images.copy()
    batch = images.shape[0]
    height, width = images.shape[2:] if channels_first else images.shape[1:3]
    spatial = ((0, 0), (0, 0), (pad, pad), (pad, pad)) if channels_first else ((0, 0), (pad, pad), (pad, pad), (0, 0))
    padded = np.pad(images, spatial, mode="edge")
    top, left = rng.integers(0, 2 * pad + 1, size=(2, batch))
    rows = (top[:, None] + np.arange(height))[:, :, None]  # (B, H, 1)
    cols = (left[:, None] + np.arange(width))[:, None, :]  # (B, 1, W)
    index = np.arange(batch)[:, None, None]
    if channels_first:
        return np.ascontiguousarray(padded.transpose(0, 2, 3, 1)[index, rows, cols].transpose(0, 3, 1, 2))
    return padded[index, rows, cols]


def _shift_tensor(tensor: torch.Tensor, pad: int, rng: np.random.Generator, channels_first: bool) -> torch.Tensor:
    shifted = random_shift(tensor.cpu().numpy(), pad, rng, channels_first)
    return torch.as_tensor(shifted, device=tensor.device)


class ShiftReplayBuffer(ReplayBuffer):
    """SB3's ``ReplayBuffer`` for a Box image observation, its sampled batches randomly shifted.

    Args (besides ``ReplayBuffer``'s): ``pad`` (px, the largest shift) and ``seed`` (of the shifts).
    """

    def __init__(self, *args: Any, pad: int = DEFAULT_PAD, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not is_image_space(self.observation_space, check_channels=False):
            raise ValueError("ShiftReplayBuffer needs image observations (uint8 Box of 3 dimensions)")
        self.pad, self.rng = int(pad), np.random.default_rng(seed)
        self.channels_first = is_image_space_channels_first(self.observation_space)  # type: ignore[arg-type]

    def _get_samples(self, batch_inds: np.ndarray, env: Any = None) -> Any:
        samples = super()._get_samples(batch_inds, env)
        return samples._replace(
            observations=_shift_tensor(samples.observations, self.pad, self.rng, self.channels_first),
            next_observations=_shift_tensor(samples.next_observations, self.pad, self.rng, self.channels_first),
        )


class ShiftDictReplayBuffer(DictReplayBuffer):
    """SB3's ``DictReplayBuffer``, the image entries of its sampled batches randomly shifted (vectors kept).

    Args (besides ``DictReplayBuffer``'s): ``pad`` (px, the largest shift) and ``seed`` (of the shifts).
    """

    def __init__(self, *args: Any, pad: int = DEFAULT_PAD, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assert isinstance(self.observation_space, spaces.Dict)
        self.images = {
            key: is_image_space_channels_first(space)  # type: ignore[arg-type]
            for key, space in self.observation_space.spaces.items()
            if is_image_space(space, check_channels=False)
        }
        if not self.images:
            raise ValueError("ShiftDictReplayBuffer needs at least one image entry (uint8 Box of 3 dimensions)")
        self.pad, self.rng = int(pad), np.random.default_rng(seed)

    def _shifted(self, observations: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {
            key: _shift_tensor(value, self.pad, self.rng, self.images[key]) if key in self.images else value
            for key, value in observations.items()
        }

    def _get_samples(self, batch_inds: np.ndarray, env: Any = None) -> Any:
        samples = super()._get_samples(batch_inds, env)
        return samples._replace(
            observations=self._shifted(samples.observations),
            next_observations=self._shifted(samples.next_observations),
        )


def shift_buffer_class(observation_space: spaces.Space[Any]) -> type[ReplayBuffer] | type[DictReplayBuffer]:
    """The shifting replay buffer for ``observation_space`` (Dict or Box)."""
    return ShiftDictReplayBuffer if isinstance(observation_space, spaces.Dict) else ShiftReplayBuffer
