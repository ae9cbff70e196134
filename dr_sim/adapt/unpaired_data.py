"""The two sides of unpaired translation in memory: labelled sim images and unlabelled target images.

``load_sim(DIR)`` reads a complete data set of ``dr-sim generate``: RGB, the semantic map and metric
depth (m). ``load_target(FOLDER, size)`` reads every image file under a folder (subfolders included,
``dr_sim.image_files``), centre-cropped and resized to ``size`` px; a folder that is missing, empty,
holds no images or holds an unreadable one is one ``ConfigError`` naming ``target.path``.
``ensure_sim`` renders the sim data set a config asks for, resuming a partial folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from dr_sim.adapt.cycle_config import SimSpec
from dr_sim.datasets.generate import generate
from dr_sim.datasets.shards import META_FILE, check_complete, read_meta, read_shard, shard_count, shard_path
from dr_sim.errors import ConfigError, DrSimError
from dr_sim.gap.images import to_square
from dr_sim.image_files import IMAGE_SUFFIXES, list_images
from dr_sim.native_output import quiet_native_stdout

Log = Callable[[str], None]


@dataclass
class SimImages:
    """``rgb`` (N, 3, H, W) uint8, ``semantic`` (N, H, W) int64 categories (0 background), ``depth``
    (N, H, W) float32 m, of a data set in index order."""

    rgb: torch.Tensor
    semantic: torch.Tensor
    depth: torch.Tensor

    def __len__(self) -> int:
        return len(self.rgb)

    @property
    def image_size(self) -> int:
        """Side of the (square) images, px."""
        return int(self.rgb.shape[-1])


def chw(rgb: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 to a contiguous (N, 3, H, W) uint8 tensor."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(0, 3, 1, 2).contiguous()


def load_sim(root: str | Path) -> SimImages:
    """The images and labels of a complete data set folder (one ``ConfigError`` when it is not one)."""
    root = Path(root)
    if not (root / META_FILE).is_file():
        raise ConfigError(
            f"sim {str(root)!r} is not a data set folder of dr-sim generate (it has no {META_FILE}); "
            f"give sim: {{path: DATASET}} or sim: {{generator: ..., n: ...}}"
        )
    meta = read_meta(root)
    try:
        check_complete(root, meta)
        shards = [read_shard(shard_path(root, k)) for k in range(shard_count(meta["count"], meta["shard_size"]))]
    except DrSimError as error:
        raise ConfigError(f"sim: {error}") from None
    if any(shard.rgb.shape[1] != shard.rgb.shape[2] for shard in shards):
        raise ConfigError(f"sim {str(root)!r}: its images are not square")
    return SimImages(
        rgb=chw(np.concatenate([shard.rgb for shard in shards])),
        semantic=torch.from_numpy(np.concatenate([shard.semantic for shard in shards]).astype(np.int64)),
        depth=torch.from_numpy(np.concatenate([shard.depth_mm for shard in shards]).astype(np.float32) / 1000.0),
    )


def target_files(folder: str | Path) -> list[Path]:
    """The image files under the target folder, sorted; one ``ConfigError`` when there are none."""
    folder = Path(folder)
    allowed = ", ".join(IMAGE_SUFFIXES)
    if not folder.exists():
        raise ConfigError(f"target.path {str(folder)!r} does not exist; give a folder of target images ({allowed})")
    if not folder.is_dir():
        raise ConfigError(f"target.path {str(folder)!r} is a file; give a folder of target images ({allowed})")
    files = list_images(folder)
    if not files:
        what = "is empty" if not any(folder.iterdir()) else "holds no images"
        raise ConfigError(f"target.path {str(folder)!r} {what}; give a folder of target images ({allowed})")
    return files


def load_target(folder: str | Path, size: int) -> tuple[torch.Tensor, list[str]]:
    """Every image under ``folder`` as (N, 3, size, size) uint8 RGB (centre-cropped, resized), and their
    paths relative to ``folder``."""
    folder = Path(folder)
    images = []
    files = target_files(folder)
    for path in files:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ConfigError(
                f"target.path {str(folder)!r}: cannot read {str(path.relative_to(folder))!r} as an image; "
                f"remove it or replace it with a readable image"
            )
        images.append(to_square(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), size))
    return chw(np.stack(images)), [str(path.relative_to(folder)) for path in files]


def ensure_sim(spec: SimSpec, default_out: Path, log: Log | None = None) -> tuple[Path, float]:
    """(data set folder, seconds spent rendering): ``spec.path`` as is, else the generator's images
    rendered into ``spec.out`` (default ``default_out``), resuming a partial folder."""

    def render(generator: str | dict[str, Any], n: int, out: Path) -> Mapping[str, Any]:
        with quiet_native_stdout():  # PyBullet prints on connect
            return generate(generator, out, n, progress=log is not None)

    return spec.ensure(
        default_out, render, lambda _, out, seconds: f"rendered {spec.n} sim images into {out} in {seconds:.0f} s", log
    )
