"""Files written whole or not at all, PNG encoding, and contact sheets of images.

The commands write their outputs through ``write_atomically``: a reader (or a rerun after Ctrl-C) sees
either the previous file or the complete new one, never a partial write.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from dr_sim.errors import DrSimError


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` (bytes) to ``path`` via a temporary file in the same folder and ``os.replace``.

    Missing parent folders are created; the file gets the usual permissions (0666 less the umask).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an RGB uint8 image (H, W, 3), pixel values 0-255."""
    ok, buffer = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise DrSimError("could not encode the contact sheet as PNG")
    return buffer.tobytes()


def make_contact_sheet(images: Sequence[np.ndarray], columns: int | None = None, *, gap: int = 2) -> np.ndarray:
    """Tile equally sized RGB uint8 images (H, W, 3) into one grid image, row by row.

    Args:
        images: at least one image; all of the same shape (H, W, 3) or (H, W) (grey, repeated to RGB).
        columns: tiles per row; default ``ceil(sqrt(len(images)))``.
        gap: pixels of black between tiles and around the grid.

    Returns:
        uint8 (rows * (H + gap) + gap, columns * (W + gap) + gap, 3) pixels; empty cells are black.
    """
    if not images:
        raise ValueError("make_contact_sheet needs at least one image")
    shape = images[0].shape
    if any(image.shape != shape for image in images):
        raise ValueError("make_contact_sheet needs images of one shape")
    tiles = [image if image.ndim == 3 else image[..., None].repeat(3, axis=2) for image in images]
    height, width = shape[:2]
    columns = columns or math.ceil(math.sqrt(len(tiles)))
    if columns <= 0:
        raise ValueError(f"columns must be positive, got {columns}")
    rows = math.ceil(len(tiles) / columns)
    sheet = np.zeros((rows * (height + gap) + gap, columns * (width + gap) + gap, 3), np.uint8)
    for i, tile in enumerate(tiles):
        top = gap + (i // columns) * (height + gap)
        left = gap + (i % columns) * (width + gap)
        sheet[top : top + height, left : left + width] = tile[..., :3]
    return sheet
