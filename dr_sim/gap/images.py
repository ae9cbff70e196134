"""Load one side of a gap measurement: a set of RGB images at a common size.

A source is one of

- a folder of image files (``.png``, ``.jpg``, ``.jpeg``, any case; subfolders included, read in sorted
  path order), for example photos from the real camera;
- a data set folder written by ``dr-sim generate`` (it holds ``dataset.json``): its ``rgb`` images in
  index order;
- a generator config (``.yaml`` / ``.yml``, see ``dr_sim.datasets.config``): ``n`` images are generated
  into ``CACHE/<config stem>-<hash>`` (the hash covers the resolved config and ``n``), so a second run
  with the same config and ``n`` reads them back instead of rendering again.

Every image is centre-cropped to a square (so that a different aspect ratio is not itself a telltale)
and resized to ``size`` x ``size`` pixels (``cv2.INTER_AREA``). From a folder or a data set at most ``n``
images are read (the first ``n`` in order). Anything unusable ends in one ``ConfigError`` naming the source.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dr_sim.datasets.config import load_generator_config, resolved_dict
from dr_sim.datasets.generate import generate
from dr_sim.datasets.shards import (
    META_FILE,
    check_complete,
    complete_shards,
    read_meta,
    shard_count,
    shard_path,
)
from dr_sim.errors import ConfigError
from dr_sim.image_files import IMAGE_SUFFIXES, list_images
from dr_sim.native_output import quiet_native_stdout

CONFIG_SUFFIXES = (".yaml", ".yml")


@dataclass
class ImageSet:
    """One side of the comparison.

    Attributes:
        source: the path given (folder, data set folder or config).
        kind: ``folder``, ``dataset`` or ``config``.
        images: (N, size, size, 3) uint8 RGB.
        names: one name per image (a file path relative to the folder, or ``#index`` in a data set).
        root: where the images were read from (for a config: the cache folder it was generated into).
    """

    source: str
    kind: str
    images: np.ndarray
    names: list[str]
    root: str

    def __len__(self) -> int:
        return len(self.images)


def to_square(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop an (H, W, 3) uint8 image to a square and resize it to ``size`` x ``size`` px."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top : top + side, left : left + side]
    if side == size:
        return np.ascontiguousarray(square)
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interpolation)


def check_source(source: str | Path) -> str:
    """The kind of ``source`` (``folder``, ``dataset`` or ``config``) after the checks that need no
    rendering: it exists, a folder holds images, a data set is complete, a config is valid."""
    path = Path(source)
    if not path.exists():
        raise ConfigError(
            f"{str(path)!r} does not exist; give an image folder, a data set folder or a generator config"
        )
    if path.is_file():
        if path.suffix.lower() not in CONFIG_SUFFIXES:
            raise ConfigError(
                f"{str(path)!r} is a file but not a generator config (.yaml/.yml); give an image folder, "
                f"a data set folder or a generator config"
            )
        load_generator_config(path)
        return "config"
    if (path / META_FILE).is_file():
        check_complete(path, read_meta(path))
        return "dataset"
    image_files(path)
    return "folder"


def identity(source: str | Path, n: int) -> str:
    """What the images of a checked ``source`` are a function of: a folder's resolved path, or for a
    config the hash of its resolved config and ``n`` (two files of one config give the same images)."""
    path = Path(source)
    return f"config {config_digest(path, n)}" if path.is_file() else f"folder {path.resolve()}"


def load_image_set(
    source: str | Path, size: int, n: int, cache: str | Path, log: Callable[[str], None] | None = None
) -> ImageSet:
    """The images of ``source`` at ``size`` x ``size`` px (see the module docstring).

    Args:
        source: an image folder, a data set folder or a generator config file.
        size: side of the common square size, pixels.
        n: images to generate from a config; at most this many are read from a folder.
        cache: folder that holds the data sets generated from configs.
        log: told (one line) when a config is rendered, which then shows the generator's progress bar
            on stderr; ``None``: silent.
    """
    path = Path(source)
    kind = check_source(path)
    if kind == "config":
        root = generate_cached(path, n, Path(cache), log)
        images, names = read_dataset(root, n)
        return ImageSet(str(path), kind, _resized(images, size), names, str(root))
    if kind == "dataset":
        images, names = read_dataset(path, n)
        return ImageSet(str(path), kind, _resized(images, size), names, str(path))
    images, names = read_folder(path, n, size)
    return ImageSet(str(path), kind, images, names, str(path))


def _resized(images: np.ndarray, size: int) -> np.ndarray:
    if images.shape[1:3] == (size, size):
        return images
    return np.stack([to_square(image, size) for image in images])


def image_files(folder: Path) -> list[Path]:
    """The image files under ``folder`` (subfolders included) in sorted order; an error if none."""
    files = list_images(folder)
    if not files:
        what = "is empty" if not any(folder.iterdir()) else "holds no images"
        raise ConfigError(
            f"folder {str(folder)!r} {what} ({', '.join(IMAGE_SUFFIXES)} files, or a dataset.json of dr-sim generate)"
        )
    return files


def read_rgb(path: Path) -> np.ndarray:
    """One image file as uint8 RGB (H, W, 3); one ``ConfigError`` when it is not a readable image."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ConfigError(f"cannot read image {str(path)!r}: not an image file OpenCV can read")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_folder(folder: Path, n: int, size: int) -> tuple[np.ndarray, list[str]]:
    """The first ``n`` image files under ``folder`` (sorted paths), each at ``size`` px, and their names."""
    files = image_files(folder)
    images = [to_square(read_rgb(file), size) for file in files[:n]]
    return np.stack(images), [str(file.relative_to(folder)) for file in files[:n]]


def read_dataset(root: Path, n: int) -> tuple[np.ndarray, list[str]]:
    """The first ``n`` ``rgb`` images (N, H, W, 3) uint8 of a complete data set folder, and their names."""
    meta = read_meta(root)
    check_complete(root, meta)
    count = min(int(meta["count"]), n)
    chunks: list[np.ndarray] = []
    for shard in range(shard_count(count, int(meta["shard_size"]))):
        path = shard_path(root, shard)
        try:
            with np.load(path) as data:
                chunks.append(data["rgb"])
        except (OSError, ValueError, KeyError) as error:
            raise ConfigError(f"shard {str(path)!r} is not a valid shard file ({error})") from None
    return np.concatenate(chunks)[:count], [f"#{index}" for index in range(count)]


def config_digest(config: Path, n: int) -> str:
    """12 hex digits of the SHA-256 of the resolved generator config and ``n``."""
    resolved = resolved_dict(load_generator_config(config))
    return hashlib.sha256(json.dumps({"config": resolved, "n": n}, sort_keys=True).encode()).hexdigest()[:12]


def cache_folder(config: Path, n: int, cache: Path) -> Path:
    """``cache/<config stem>-<config_digest>``."""
    return cache / f"{config.stem}-{config_digest(config, n)}"


def generate_cached(config: Path, n: int, cache: Path, log: Callable[[str], None] | None = None) -> Path:
    """Generate ``n`` images of ``config`` into its cache folder (resuming, or reusing a complete one)."""
    root = cache_folder(config, n, cache)
    if (root / META_FILE).is_file():
        meta = read_meta(root)
        if len(complete_shards(root, meta)) == shard_count(n, int(meta["shard_size"])):
            return root
    if log is not None:
        log(f"generating {n} images of {config} into {root}")
    with quiet_native_stdout():  # PyBullet prints on connect
        generate(config, root, n, progress=log is not None)
    return root
