"""A ``torch.utils.data.Dataset`` over a generated data set folder.

``ShardDataset(root)[i]`` is image ``i`` as a dict: ``rgb`` (H, W, 3) uint8, ``depth`` (H, W) float32
metres (0 where unknown, e.g. warped in from outside the image), ``instance`` and ``semantic`` (H, W)
uint8, and ``labels`` (the per-image dict of the shards), after an optional augmentation
(``dr_sim.datasets.augment``) seeded by (``seed``, epoch, ``i``): call ``set_epoch`` each epoch for new
draws. Shards load lazily, whole, with the last ``cache_shards`` kept; read in index order (or shuffled
within shards) for speed. ``collate`` batches samples into tensors; ``target_xy`` is the regression
target of the pose network: the target's world (x, y) in metres.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from dr_sim.datasets.augment import Augment, Sample
from dr_sim.datasets.shards import Shard, check_complete, read_meta, read_shard, shard_path

ARRAY_KEYS = ("rgb", "depth", "instance", "semantic")


class ShardDataset(Dataset[Sample]):
    """The images of a complete data set folder written by ``dr-sim generate``.

    Args:
        root: the data set folder (it holds ``dataset.json``).
        augment: ``(sample, rng) -> sample``, or ``None``.
        seed: seeds the augmentation of item ``i`` in epoch ``e`` as ``default_rng([seed, e, i])``.
        cache_shards: shards kept in memory (per DataLoader worker).
    """

    def __init__(
        self, root: str | Path, augment: Augment | None = None, seed: int = 0, *, cache_shards: int = 2
    ) -> None:
        self.root = Path(root)
        self.meta = read_meta(self.root)
        check_complete(self.root, self.meta)
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self.cache_shards = max(1, cache_shards)
        self._cache: OrderedDict[int, Shard] = OrderedDict()

    def __len__(self) -> int:
        return int(self.meta["count"])

    def set_epoch(self, epoch: int) -> None:
        """Draw new augmentations from now on (epoch ``epoch``)."""
        self.epoch = epoch

    def _shard(self, shard: int) -> Shard:
        if shard in self._cache:
            self._cache.move_to_end(shard)
        else:
            self._cache[shard] = read_shard(shard_path(self.root, shard))
            while len(self._cache) > self.cache_shards:
                self._cache.popitem(last=False)
        return self._cache[shard]

    def __getitem__(self, index: int) -> Sample:
        count = len(self)
        if not -count <= index < count:
            raise IndexError(f"index {index} is out of range for a data set of {count} images")
        index %= count
        shard_size = int(self.meta["shard_size"])
        data, row = self._shard(index // shard_size), index % shard_size
        sample: Sample = {
            "rgb": data.rgb[row].copy(),
            "depth": data.depth_mm[row].astype(np.float32) / np.float32(1000.0),
            "instance": data.instance[row].copy(),
            "semantic": data.semantic[row].copy(),
            "labels": copy.deepcopy(data.labels[row]),
        }
        if self.augment is not None:
            sample = self.augment(sample, np.random.default_rng([self.seed, self.epoch, index]))
        return sample

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cache"] = OrderedDict()  # DataLoader workers load their own shards
        return state


def target_xy(sample: Sample) -> np.ndarray:
    """The target's world (x, y) in metres, float32 (2,): what the pose network regresses."""
    return np.asarray(sample["labels"]["target"]["position"][:2], dtype=np.float32)


def collate(batch: Sequence[Sample]) -> dict[str, Any]:
    """A batch for a DataLoader: the image arrays stacked into tensors (B, H, W[, 3]), ``target_xy``
    (B, 2) float32, and ``labels`` kept as a list of dicts (their object lists differ in length)."""
    stacked: dict[str, Any] = {key: torch.from_numpy(np.stack([s[key] for s in batch])) for key in ARRAY_KEYS}
    stacked["target_xy"] = torch.from_numpy(np.stack([target_xy(s) for s in batch]))
    stacked["labels"] = [s["labels"] for s in batch]
    return stacked
