"""The on-disk format of a generated data set: ``dataset.json``, shard files and ``manifest.jsonl``.

Layout of a data set folder ``DIR`` (every file is written atomically: a temporary file in the same
folder, then ``os.replace``; a file that exists is complete):

- ``DIR/dataset.json``: ``{"version": 1, "config": <resolved generator config>, "count": N,
  "shard_size": S, "image_size": H, "categories": {"1": "target", "2": "distractor", "3": "table",
  "4": "floor", "5": "other"}}``, written before any shard;
- ``DIR/shards/shard-000123.npz`` (``np.savez``; ``np.savez_compressed`` with the config's
  ``compress``; ``np.load`` reads both): images ``[123 * S, min(N, 124 * S))``
  as arrays ``index`` (k,) int64, ``rgb`` (k, H, W, 3) uint8, ``depth_mm`` (k, H, W) uint16
  (millimetres, rounded, clipped to 65535), ``instance`` (k, H, W) uint8 (0 background or unlabelled,
  j for the j-th entry of that image's ``objects``), ``semantic`` (k, H, W) uint8 (category per pixel)
  and ``labels``, a 0-d str array holding a JSON list of one dict per image;
- ``DIR/manifest.jsonl``: one JSON line per image (``index``, ``seed``, ``shard``, ``randomization``),
  written once every shard is complete.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dr_sim.errors import ConfigError, DrSimError
from dr_sim.file_io import write_atomically

VERSION = 1
CATEGORIES = {1: "target", 2: "distractor", 3: "table", 4: "floor", 5: "other"}
TARGET, DISTRACTOR, TABLE, FLOOR, OTHER = 1, 2, 3, 4, 5
META_FILE = "dataset.json"
MANIFEST_FILE = "manifest.jsonl"
SHARD_FOLDER = "shards"
ARRAYS = ("index", "rgb", "depth_mm", "instance", "semantic")
MAX_DEPTH_MM = 65535


@dataclass
class Shard:
    """The images of one shard file: arrays stacked along the first axis, ``labels`` one dict each."""

    index: np.ndarray  # (k,) int64
    rgb: np.ndarray  # (k, H, W, 3) uint8
    depth_mm: np.ndarray  # (k, H, W) uint16, millimetres
    instance: np.ndarray  # (k, H, W) uint8
    semantic: np.ndarray  # (k, H, W) uint8
    labels: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.index)


def depth_to_mm(depth_m: np.ndarray) -> np.ndarray:
    """Metric depth (m, float) to uint16 millimetres, rounded and clipped to [0, 65535]."""
    return np.clip(np.rint(depth_m * 1000.0), 0, MAX_DEPTH_MM).astype(np.uint16)


def shard_name(shard: int) -> str:
    return f"shard-{shard:06d}.npz"


def shard_path(root: Path, shard: int) -> Path:
    return root / SHARD_FOLDER / shard_name(shard)


def shard_count(count: int, shard_size: int) -> int:
    """Number of shards holding ``count`` images, ``shard_size`` per shard (the last may hold fewer)."""
    return -(-count // shard_size)


def shard_range(shard: int, shard_size: int, count: int) -> range:
    """Image indices of ``shard``: ``[shard * S, min(count, (shard + 1) * S))``."""
    return range(shard * shard_size, min(count, (shard + 1) * shard_size))


def encode_shard(shard: Shard, *, compress: bool = False) -> bytes:
    """The bytes of a shard file (``np.savez``, or ``np.savez_compressed`` with ``compress``).

    Uncompressed by default: at 64 x 64 px with ten distractors an image takes about 70 KiB, most of it
    the labels' JSON (a numpy str array holds 4 bytes a character); deflating shrinks it about 8 times
    for about 1 ms more per image (measured), as long as rendering one image.
    """
    buffer = io.BytesIO()
    labels = np.array(json.dumps(shard.labels, separators=(",", ":")))
    (np.savez_compressed if compress else np.savez)(
        buffer,
        index=shard.index.astype(np.int64),
        rgb=shard.rgb,
        depth_mm=shard.depth_mm,
        instance=shard.instance,
        semantic=shard.semantic,
        labels=labels,
    )
    return buffer.getvalue()


def write_shard(path: Path, shard: Shard, *, compress: bool = False) -> None:
    """Write one shard atomically (encoded in memory first: a killed writer leaves no partial file)."""
    write_atomically(path, encode_shard(shard, compress=compress))


def read_shard(path: Path) -> Shard:
    """Load a whole shard (arrays and parsed labels)."""
    try:
        with np.load(path) as data:
            arrays = {name: data[name] for name in ARRAYS}
            labels = json.loads(str(data["labels"]))
    except FileNotFoundError:
        raise DrSimError(f"shard {str(path)!r} does not exist: the data set is incomplete (rerun generate)") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise DrSimError(f"shard {str(path)!r} is not a valid shard file ({error})") from None
    return Shard(**arrays, labels=labels)


def read_labels(path: Path) -> list[dict[str, Any]]:
    """Only the labels of a shard (its image arrays are not read)."""
    with np.load(path) as data:
        return list(json.loads(str(data["labels"])))


# -- dataset.json ---------------------------------------------------------------------------------
def make_meta(config: dict[str, Any], count: int) -> dict[str, Any]:
    """The ``dataset.json`` content of a resolved generator config and an image count."""
    return {
        "version": VERSION,
        "config": config,
        "count": count,
        "shard_size": config["shard_size"],
        "image_size": config["image_size"],
        "categories": {str(key): name for key, name in CATEGORIES.items()},
    }


def read_meta(root: Path) -> dict[str, Any]:
    """The parsed ``dataset.json`` of a data set folder; one clear error when it is missing or bad."""
    path = root / META_FILE
    if not path.is_file():
        raise ConfigError(f"{str(root)!r} is not a data set folder: it has no {META_FILE} (run dr-sim generate)")
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{str(path)!r} is not valid JSON ({error}); it was not written by dr-sim generate") from None
    if not isinstance(meta, dict) or meta.get("version") != VERSION:
        found = meta.get("version") if isinstance(meta, dict) else None
        raise ConfigError(f"{str(path)!r}: unsupported data set version {found!r}, expected {VERSION}")
    return meta


def differing_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys where two JSON values differ (``config.seed``, ``config.randomization.camera``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            keys += differing_keys(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else str(key))
        return keys
    return [] if old == new else [prefix or "(root)"]


def prepare_root(root: Path, meta: dict[str, Any]) -> None:
    """Write ``dataset.json`` into a new or empty ``root``, or check that the one there is ``meta``.

    A folder holding other files, or a data set made with another config or count, is never touched:
    the error names what differs.
    """
    path = root / META_FILE
    if path.exists():
        existing = read_meta(root)
        keys = differing_keys(existing, meta)
        if keys:
            shown = ", ".join(_difference(key, existing, meta) for key in keys[:6])
            more = f" and {len(keys) - 6} more" if len(keys) > 6 else ""
            raise ConfigError(
                f"{str(root)!r} holds a data set made with different settings ({shown}{more}); "
                f"use another --out folder, or the same config and -n to resume"
            )
        return
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--out {str(root)!r} is a file; give a folder (new or empty)")
    if root.is_dir() and any(root.iterdir()):
        raise ConfigError(f"--out {str(root)!r} is not empty and holds no {META_FILE}; give a new or empty folder")
    write_atomically(path, (json.dumps(meta, indent=1) + "\n").encode())


def _difference(key: str, old: dict[str, Any], new: dict[str, Any]) -> str:
    def get(data: Any) -> Any:
        for part in key.split("."):
            data = data.get(part) if isinstance(data, dict) else None
        return data

    before, after = get(old), get(new)
    if isinstance(before, dict | list) or isinstance(after, dict | list):
        return key
    return f"{key}: {before!r} there, {after!r} asked"


# -- completeness and the manifest ------------------------------------------------------------------
def complete_shards(root: Path, meta: dict[str, Any]) -> set[int]:
    """Shards whose file exists (a shard file is complete by construction)."""
    total = shard_count(meta["count"], meta["shard_size"])
    return {shard for shard in range(total) if shard_path(root, shard).is_file()}


def remove_stale_temporaries(root: Path) -> int:
    """Delete temporary files a killed writer left in the shard folder; returns how many."""
    removed = 0
    for path in (root / SHARD_FOLDER).glob(".shard-*.tmp"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def check_complete(root: Path, meta: dict[str, Any]) -> None:
    """One clear error when a shard is missing."""
    total = shard_count(meta["count"], meta["shard_size"])
    missing = sorted(set(range(total)) - complete_shards(root, meta))
    if missing:
        raise DrSimError(
            f"{str(root)!r} is incomplete: {len(missing)} of {total} shards missing (first: "
            f"{shard_name(missing[0])}); rerun dr-sim generate with the same config and -n to finish it"
        )


def iter_labels(root: Path, meta: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(shard, per-image labels) of every image in index order."""
    for shard in range(shard_count(meta["count"], meta["shard_size"])):
        for label in read_labels(shard_path(root, shard)):
            yield shard, label


def content_hash(root: Path) -> str:
    """SHA-256 (hex) of a complete data set's images and labels, shard by shard in index order.

    Two sets with the same hash hold the same pixels, depths, maps and labels, whatever wrote them (the
    backend, the number of workers, the machine); the bytes of the files themselves differ (zip times).
    """
    meta = read_meta(root)
    check_complete(root, meta)
    digest = hashlib.sha256()
    for shard in range(shard_count(meta["count"], meta["shard_size"])):
        data = read_shard(shard_path(root, shard))
        for name in ARRAYS:
            array = np.ascontiguousarray(getattr(data, name))
            digest.update(f"{name} {array.dtype.str} {array.shape}".encode())
            digest.update(array.tobytes())
        digest.update(json.dumps(data.labels, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


def write_manifest(root: Path, meta: dict[str, Any]) -> Path:
    """Write ``manifest.jsonl`` from the shards (one line per image), atomically; returns its path."""
    check_complete(root, meta)
    lines = [
        json.dumps(
            {"index": label["index"], "seed": label["seed"], "shard": shard, "randomization": label["randomization"]},
            separators=(",", ":"),
        )
        for shard, label in iter_labels(root, meta)
    ]
    path = root / MANIFEST_FILE
    write_atomically(path, ("\n".join(lines) + "\n").encode())
    return path
