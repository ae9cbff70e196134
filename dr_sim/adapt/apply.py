"""Translate a folder of images, or a data set, with a trained translator (``dr-sim adapt apply RUN
IN_DIR OUT_DIR``); any kind of run (``rcan``, ``pix2pix``, ``cyclegan``).

A folder of images: every image file under ``IN_DIR`` (``.png``, ``.jpg``, ``.jpeg``, any case, subfolders included) is
read as RGB, resized as a whole to the translator's square training size (``cv2.INTER_AREA`` when
shrinking), translated, resized back to its own width and height, and written under ``OUT_DIR`` with
the same relative path and file name (so the same format), atomically. ``OUT_DIR`` may exist (files of
the same names are replaced) but may not be ``IN_DIR`` or lie inside it.

A data set of ``dr-sim generate`` (``IN_DIR`` holds ``dataset.json``): a translated copy
(``dr_sim.adapt.apply_dataset``): the same shards, count and image size, only the RGB translated.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from dr_sim.adapt.apply_dataset import apply_dataset
from dr_sim.adapt.run import load_generator
from dr_sim.adapt.training import translate
from dr_sim.datasets.shards import META_FILE
from dr_sim.errors import ConfigError
from dr_sim.file_io import write_atomically
from dr_sim.gap.images import read_rgb
from dr_sim.image_files import IMAGE_SUFFIXES, list_images

CHUNK = 256  # images read, translated and written at a time


def _image_files(folder: Path) -> list[Path]:
    """The image files under ``folder`` in sorted order; one ``ConfigError`` when there are none."""
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is a file"
        raise ConfigError(f"IN_DIR {str(folder)!r} {what}; give a folder of images ({', '.join(IMAGE_SUFFIXES)})")
    files = list_images(folder)
    if not files:
        raise ConfigError(f"IN_DIR {str(folder)!r} holds no images ({', '.join(IMAGE_SUFFIXES)} files)")
    return files


def _check_out(in_dir: Path, out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"OUT_DIR {str(out_dir)!r} is a file; give a folder for the translated images")
    inside = out_dir.resolve() == in_dir.resolve() or in_dir.resolve() in out_dir.resolve().parents
    if inside:
        raise ConfigError(
            f"OUT_DIR {str(out_dir)!r} is IN_DIR or lies inside it: the translations would mix with (or replace) "
            f"the inputs; give another folder"
        )


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    if image.shape[:2] == (height, width):
        return image
    shrink = width * height < image.shape[0] * image.shape[1]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _encode(image: np.ndarray, suffix: str) -> bytes:
    ok, buffer = cv2.imencode(suffix, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ConfigError(f"cannot encode an image as {suffix}")
    return buffer.tobytes()


def translate_images(generator: Any, images: list[np.ndarray], size: int) -> list[np.ndarray]:
    """RGB uint8 images (H, W, 3) of any sizes translated at ``size`` px, each back at its own size."""
    square = np.stack([_resize(image, size, size) for image in images])
    output = translate(generator, torch.from_numpy(square).permute(0, 3, 1, 2).contiguous())
    output_hwc = output.permute(0, 2, 3, 1).numpy()
    return [_resize(out, image.shape[1], image.shape[0]) for out, image in zip(output_hwc, images, strict=True)]


def apply_folder(
    run: str | Path, in_dir: str | Path, out_dir: str | Path, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Translate every image under ``in_dir`` (or the data set in ``in_dir``) into ``out_dir`` (module
    docstring); returns ``images``, ``out`` and the translator's ``image_size``."""
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if (in_dir / META_FILE).is_file():
        generator, info = load_generator(run)
        size = info["image_size"]
        record = {"run": str(run), "method": info["config"]["method"], "image_size": size}
        translated = apply_dataset(
            in_dir, out_dir, lambda images: translate_images(generator, images, size), record, log
        )
        return {**translated, "image_size": size}
    files = _image_files(in_dir)
    _check_out(in_dir, out_dir)
    generator, info = load_generator(run)
    size = info["image_size"]
    for start in range(0, len(files), CHUNK):
        chunk = files[start : start + CHUNK]
        translated = translate_images(generator, [read_rgb(path) for path in chunk], size)
        for path, image in zip(chunk, translated, strict=True):
            write_atomically(out_dir / path.relative_to(in_dir), _encode(image, path.suffix.lower()))
        if log is not None:
            log(f"{start + len(chunk)}/{len(files)} images")
    return {"images": len(files), "out": str(out_dir), "image_size": size}
