"""Paired renders in memory: what a translator learns from (``dr_sim.datasets.paired`` on disk).

``load_pairs(DIR)`` reads both looks of a pair folder: randomized RGB (the input), canonical RGB (the
target), and the semantic map and metric depth (m) of the canonical render (the auxiliary targets of
RCAN's heads). ``ensure_pairs`` renders the pairs a config asks for, resuming a partial folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dr_sim.adapt.config import PairSpec
from dr_sim.datasets.paired import generate_pairs
from dr_sim.datasets.shards import check_complete, read_meta, read_shard, shard_count, shard_path
from dr_sim.errors import ConfigError

Log = Callable[[str], None]


@dataclass
class Pairs:
    """``inputs`` and ``targets`` (N, 3, H, W) uint8 RGB (randomized, canonical), ``semantic`` (N, H, W)
    int64 categories (``dr_sim.datasets.shards.CATEGORIES``, 0 background), ``depth`` (N, H, W) float32 m."""

    inputs: torch.Tensor
    targets: torch.Tensor
    semantic: torch.Tensor
    depth: torch.Tensor

    def __len__(self) -> int:
        return len(self.inputs)

    @property
    def image_size(self) -> int:
        """Side of the (square) images, px."""
        return int(self.inputs.shape[-1])


def _read_look(root: Path, look: str) -> tuple[dict, dict[str, np.ndarray]]:
    """(dataset.json, arrays concatenated over the shards) of one look of a pair folder."""
    folder = root / look
    if not folder.is_dir():
        raise ConfigError(
            f"{str(root)!r} is not a pair folder: it has no {look}/ "
            f"(render pairs with data: {{generator: ..., n: ...}})"
        )
    meta = read_meta(folder)
    if meta.get("look") != look:
        raise ConfigError(f"{str(folder)!r} is a data set but not the {look} half of paired renders")
    check_complete(folder, meta)
    shards = [read_shard(shard_path(folder, k)) for k in range(shard_count(meta["count"], meta["shard_size"]))]
    keys = ("rgb", "depth_mm", "semantic")
    return meta, {key: np.concatenate([getattr(shard, key) for shard in shards]) for key in keys}


def load_pairs(root: str | Path) -> Pairs:
    """Both looks of a complete pair folder, in index order (one ``ConfigError`` when it is not one)."""
    root = Path(root)
    meta, randomized = _read_look(root, "randomized")
    canonical_meta, canonical = _read_look(root, "canonical")
    if canonical_meta["count"] != meta["count"]:
        raise ConfigError(f"{str(root)!r}: its randomized and canonical halves hold different image counts")

    def chw(rgb: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(rgb)).permute(0, 3, 1, 2).contiguous()

    return Pairs(
        inputs=chw(randomized["rgb"]),
        targets=chw(canonical["rgb"]),
        semantic=torch.from_numpy(canonical["semantic"].astype(np.int64)),
        depth=torch.from_numpy(canonical["depth_mm"].astype(np.float32) / np.float32(1000.0)),
    )


def ensure_pairs(spec: PairSpec, default_out: Path, log: Log | None = None) -> tuple[Path, float]:
    """(pair folder, seconds spent rendering): ``spec.path`` as is, else the generator's pairs rendered
    into ``spec.out`` (default ``default_out``), resuming a partial folder."""

    def render(generator: str | dict[str, Any], n: int, out: Path) -> Mapping[str, Any]:
        return generate_pairs(generator, out, n, progress=log is not None)

    return spec.ensure(
        default_out, render, lambda _, out, seconds: f"rendered {spec.n} pairs into {out} in {seconds:.0f} s", log
    )
