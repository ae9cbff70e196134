"""Export a generated data set as COCO: ``DIR/coco/annotations.json``, RGB and 16-bit depth PNGs.

``export_coco(DIR)`` (or ``dr-sim generate ... --export coco``) writes

- ``DIR/coco/images/<index:09d>.png``: the RGB image;
- ``DIR/coco/depth/<index:09d>.png``: depth, uint16 millimetres (as the shards' ``depth_mm``);
- ``DIR/coco/annotations.json``: ``images`` (``id`` = index, ``file_name`` relative to ``images/``,
  ``depth_file`` relative to ``coco/``), ``categories`` (the data set's five, keypoints named after the
  box corners for ``target`` and ``distractor``) and ``annotations``, one per labelled object with at
  least one visible pixel: ``bbox`` ``[x, y, w, h]`` (pixel edges, as the label's box), ``area`` (its
  visible pixels), ``segmentation`` the compressed RLE of its visible instance mask (COCO's own
  string encoding, written here), ``keypoints`` the 8 projected local-box corners as
  ``[x, y, v] * 8`` and ``num_keypoints`` (8: every corner is labelled), ``iscrowd`` 0.

Keypoint visibility ``v``: 2 when the corner projects inside the image, in front of the camera, and is
not hidden (the depth map at its pixel is not nearer than the corner by more than one pixel's footprint
plus ``DEPTH_TOLERANCE_M``); else 1 (outside the image, behind the camera, or hidden). Pixel
coordinates keep dr_sim's convention (pixel (u, v) spans [u, u + 1) x [v, v + 1)); COCO's is the same.

Every file is written atomically; PNGs already present are kept (an interrupted export resumes), and
``annotations.json`` is written last.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dr_sim.datasets.shards import (
    CATEGORIES,
    COCO_EXPORT,
    DISTRACTOR,
    TARGET,
    check_complete,
    read_meta,
    read_shard,
    shard_count,
    shard_path,
)
from dr_sim.errors import DrSimError
from dr_sim.file_io import encode_png, write_atomically

COCO_FOLDER = COCO_EXPORT
DEPTH_TOLERANCE_M = 0.005
CORNER_NAMES = [f"corner{i & 1}{i >> 1 & 1}{i >> 2 & 1}" for i in range(8)]  # high (1) or low (0) on x, y, z
#: The 12 edges of a box between corners (1-based, as COCO's skeletons).
BOX_EDGES = [[a + 1, b + 1] for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count("1") == 1]


# -- run-length encoding ---------------------------------------------------------------------------
def rle_counts(mask: np.ndarray) -> list[int]:
    """COCO's uncompressed RLE counts of a boolean mask (H, W): run lengths in column-major order,
    starting with a run of zeros (0 when the first pixel is set)."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    return [0, *counts] if flat.size and flat[0] else counts


def rle_compress(counts: list[int]) -> str:
    """COCO's compressed string of RLE counts (``pycocotools``' ``rleToString``): each count, from the
    third on as the difference to the count two before, in 5-bit groups with a continuation bit, + 48."""
    chars = []
    for i, count in enumerate(counts):
        value = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            group = value & 0x1F
            value >>= 5
            more = value != -1 if group & 0x10 else value != 0  # the sign bit of the group ends a number
            chars.append(chr(group + (0x20 if more else 0) + 48))
    return "".join(chars)


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """A COCO compressed RLE ``{"size": [h, w], "counts": str}`` of a boolean mask."""
    return {"size": list(mask.shape), "counts": rle_compress(rle_counts(mask))}


# -- annotations ---------------------------------------------------------------------------------------
def keypoint_triplets(label: dict[str, Any], depth_m: np.ndarray, k: np.ndarray) -> list[float]:
    """``[x, y, v] * 8`` of an object's projected corners (see the module docstring for ``v``)."""
    height, width = depth_m.shape
    result: list[float] = []
    for (x, y), z in zip(label["keypoints"], label["keypoint_depth"], strict=True):
        u, v = int(np.floor(x)), int(np.floor(y))
        inside = z > 0 and 0 <= u < width and 0 <= v < height
        footprint = z / k[0, 0] if inside else 0.0
        seen = inside and depth_m[v, u] >= z - footprint - DEPTH_TOLERANCE_M
        result += [float(x), float(y), 2 if seen else 1]
    return result


def image_annotations(
    instance: np.ndarray, depth_mm: np.ndarray, labels: dict[str, Any], first_id: int
) -> list[dict[str, Any]]:
    """COCO annotations of one image's visible objects, numbered from ``first_id``."""
    depth_m = depth_mm.astype(np.float64) / 1000.0
    k = np.asarray(labels["camera"]["K"])
    annotations: list[dict[str, Any]] = []
    for j, label in enumerate(labels["objects"]):
        if label["box"] is None:
            continue
        x0, y0, x1, y1 = label["box"]
        mask = instance == j + 1
        annotations.append(
            {
                "id": first_id + len(annotations),
                "image_id": labels["index"],
                "category_id": label["category"],
                "bbox": [x0, y0, x1 - x0, y1 - y0],
                "area": int(np.count_nonzero(mask)),
                "segmentation": encode_mask(mask),
                "keypoints": keypoint_triplets(label, depth_m, k),
                "num_keypoints": len(label["keypoints"]),
                "iscrowd": 0,
                "name": label["name"],
            }
        )
    return annotations


def coco_categories() -> list[dict[str, Any]]:
    """The data set's categories; ``target`` and ``distractor`` carry the box-corner keypoints."""
    categories = []
    for category, name in CATEGORIES.items():
        entry: dict[str, Any] = {"id": category, "name": name, "supercategory": "object"}
        if category in (TARGET, DISTRACTOR):
            entry.update(keypoints=CORNER_NAMES, skeleton=BOX_EDGES)
        categories.append(entry)
    return categories


def _write_png(path: Path, image: np.ndarray) -> None:
    if path.exists():
        return
    if image.ndim == 3:
        data = encode_png(image)
    else:
        ok, buffer = cv2.imencode(".png", image)
        if not ok:
            raise DrSimError(f"could not encode {str(path)!r} as PNG")
        data = buffer.tobytes()
    write_atomically(path, data)


def export_coco(root: str | Path) -> Path:
    """Export the complete data set in ``root`` to ``root/coco`` (see the module docstring); returns
    the path of ``annotations.json``."""
    root = Path(root)
    meta = read_meta(root)
    check_complete(root, meta)
    folder = root / COCO_FOLDER
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for shard in range(shard_count(meta["count"], meta["shard_size"])):
        data = read_shard(shard_path(root, shard))
        for i, labels in enumerate(data.labels):
            name = f"{labels['index']:09d}.png"
            _write_png(folder / "images" / name, data.rgb[i])
            _write_png(folder / "depth" / name, data.depth_mm[i])
            height, width = data.rgb[i].shape[:2]
            images.append(
                {
                    "id": labels["index"],
                    "file_name": name,
                    "depth_file": f"depth/{name}",
                    "width": width,
                    "height": height,
                }
            )
            annotations += image_annotations(data.instance[i], data.depth_mm[i], labels, len(annotations) + 1)
    coco = {
        "info": {"description": "dr_sim generated data set", "version": str(meta["version"])},
        "images": images,
        "annotations": annotations,
        "categories": coco_categories(),
    }
    path = folder / "annotations.json"
    write_atomically(path, json.dumps(coco, separators=(",", ":")).encode())
    return path
