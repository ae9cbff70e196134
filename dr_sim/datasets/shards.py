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
- ``DIR/index.jsonl``: the checksum of each shard file, one JSON line per shard written (``shard``,
  ``file``, ``bytes``, ``sha256`` of the file's bytes), appended right after the shard file is in place
  and rewritten in shard order once the set is complete (a later line for a shard replaces an earlier
  one; a torn last line is ignored). A rerun checks every shard file against it and renders again any
  shard that is missing, truncated or altered (``ShardIndex.verify``); a shard that has no line (its
  writer was killed between the two writes, or a set from before the index) is checked by reading it
  whole (the zip CRCs of every array), then given its line;
- ``DIR/manifest.jsonl``: one JSON line per image (``index``, ``seed``, ``shard``, ``randomization``),
  written once every shard is complete.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dr_sim.errors import ConfigError, DrSimError
from dr_sim.file_io import write_atomically
from dr_sim.run_cache import describe_difference, differing_keys

VERSION = 1
CATEGORIES = {1: "target", 2: "distractor", 3: "table", 4: "floor", 5: "other"}
TARGET, DISTRACTOR, TABLE, FLOOR, OTHER = 1, 2, 3, 4, 5
META_FILE = "dataset.json"
MANIFEST_FILE = "manifest.jsonl"
INDEX_FILE = "index.jsonl"
COCO_EXPORT = "coco"  # the folder dr_sim.datasets.coco writes
SHARD_FOLDER = "shards"
ARRAYS = ("index", "rgb", "depth_mm", "instance", "semantic")
MAX_DEPTH_MM = 65535
#: Memory of a shard being built, per pixel of each of its images: 7 bytes of arrays (RGB, depth, instance,
#: semantic), held about four times over (the rendered images, the stacked arrays, the encoded file and its
#: copy). Measured once: peak resident memory of ``dr-sim generate`` at 1024 px grows by 97 MiB from 4 to 8
#: images a shard, about 25 bytes a pixel.
SHARD_BYTES_PER_PIXEL = 28
#: Memory of one image's labels in a shard being built (a JSON string of about 20 thousand characters at
#: ten distractors, 4 bytes a character in a numpy str array, plus the dicts): an upper bound.
LABEL_BYTES = 128 * 1024


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
    with _opened(path) as data:
        arrays = {name: data[name] for name in ARRAYS}
        labels = json.loads(str(data["labels"]))
    return Shard(**arrays, labels=labels)


def read_labels(path: Path) -> list[dict[str, Any]]:
    """Only the labels of a shard (its image arrays are not read)."""
    with _opened(path) as data:
        return list(json.loads(str(data["labels"])))


@contextmanager
def _opened(path: Path) -> Iterator[Any]:
    """A shard file opened with ``np.load``; a missing or invalid one (truncated, altered) is one
    ``DrSimError`` that says to rerun generate."""
    try:
        with np.load(path) as data:
            yield data
    except FileNotFoundError:
        raise DrSimError(f"shard {str(path)!r} does not exist: the data set is incomplete (rerun generate)") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DrSimError(
            f"shard {str(path)!r} is not a valid shard file ({error}); rerun generate to repair it"
        ) from None


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


def prepare_root(root: Path, meta: dict[str, Any]) -> None:
    """Write ``dataset.json`` into a new or empty ``root``, or check that the one there is ``meta``.

    A data set of the same settings and a larger count is extended: image ``i`` depends on (seed, i) alone,
    so its shards stay, but for a last one that held fewer images than a shard does (it is rendered again,
    whole) and the COCO export, which no longer covers the set (export again). A folder holding other
    files, or a data set made with other settings or a larger count, is never touched: the error names
    what differs.
    """
    path = root / META_FILE
    if path.exists():
        existing = read_meta(root)
        keys = differing_keys(existing, meta)
        if keys == ["count"] and meta["count"] > existing["count"]:
            _extend(root, existing, meta)
            return
        if keys:
            shown = ", ".join(describe_difference(key, existing, meta) for key in keys[:6])
            more = f" and {len(keys) - 6} more" if len(keys) > 6 else ""
            raise ConfigError(
                f"{str(root)!r} holds a data set made with different settings ({shown}{more}); "
                f"use another --out folder, or the same config and -n to resume (a larger -n extends the set)"
            )
        return
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--out {str(root)!r} is a file; give a folder (new or empty)")
    if root.is_dir() and any(root.iterdir()):
        raise ConfigError(f"--out {str(root)!r} is not empty and holds no {META_FILE}; give a new or empty folder")
    write_atomically(path, (json.dumps(meta, indent=1) + "\n").encode())


def _extend(root: Path, existing: dict[str, Any], meta: dict[str, Any]) -> None:
    """Make ``root``'s data set of ``existing["count"]`` images one of ``meta["count"]`` (see ``prepare_root``)."""
    size = existing["shard_size"]
    if existing["count"] % size:  # the old last shard stopped short of a full one
        shard_path(root, shard_count(existing["count"], size) - 1).unlink(missing_ok=True)
    shutil.rmtree(root / COCO_EXPORT, ignore_errors=True)
    write_atomically(root / META_FILE, (json.dumps(meta, indent=1) + "\n").encode())


# -- completeness and the manifest ------------------------------------------------------------------
def complete_shards(root: Path, meta: dict[str, Any]) -> set[int]:
    """Shards whose file exists (a shard file is complete by construction)."""
    total = shard_count(meta["count"], meta["shard_size"])
    return {shard for shard in range(total) if shard_path(root, shard).is_file()}


def remove_stale_temporaries(root: Path) -> int:
    """Delete temporary files a killed writer left in the data set folder or its shard folder; returns how many."""
    removed = 0
    for folder in (root, root / SHARD_FOLDER):
        for path in folder.glob(".*.tmp"):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


# -- the checksum index -----------------------------------------------------------------------------
def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


class ShardIndex:
    """The checksums of a data set's shard files (``index.jsonl``, see the module docstring).

    Only the process holding the data set's lock writes shards and the index.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.path = self.root / INDEX_FILE
        self.entries: dict[int, dict[str, Any]] = self._read()

    def _read(self) -> dict[int, dict[str, Any]]:
        entries: dict[int, dict[str, Any]] = {}
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return entries
        except (OSError, UnicodeDecodeError):
            return entries  # unreadable: every shard is checked by reading it, and the index written again
        for line in lines:
            try:
                entry = json.loads(line)
                entries[int(entry["shard"])] = {
                    "shard": int(entry["shard"]),
                    "file": str(entry["file"]),
                    "bytes": int(entry["bytes"]),
                    "sha256": str(entry["sha256"]),
                }
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line of a killed writer
        return entries

    @staticmethod
    def _line(entry: dict[str, Any]) -> str:
        return json.dumps(entry, separators=(",", ":")) + "\n"

    def _record(self, shard: int, size: int, sha256: str) -> None:
        entry = {"shard": shard, "file": shard_name(shard), "bytes": size, "sha256": sha256}
        self.entries[shard] = entry
        with open(self.path, "a") as file:
            file.write(self._line(entry))
            file.flush()
            os.fsync(file.fileno())

    def write_shard(self, shard: int, data: bytes) -> Path:
        """Write shard ``shard``'s file atomically, then its checksum line; returns its path."""
        path = shard_path(self.root, shard)
        write_atomically(path, data)
        self._record(shard, len(data), hashlib.sha256(data).hexdigest())
        return path

    def verify(self, meta: dict[str, Any]) -> tuple[set[int], list[int]]:
        """(complete shards, shards removed): every shard file is checked against its checksum (one without
        a line is read whole, and recorded when sound); a file that fails is deleted, to be rendered again."""
        total = shard_count(meta["count"], meta["shard_size"])
        complete: set[int] = set()
        removed: list[int] = []
        for shard in range(total):
            path = shard_path(self.root, shard)
            if not path.is_file():
                continue
            entry = self.entries.get(shard)
            if entry is not None:
                sound = path.stat().st_size == entry["bytes"] and file_sha256(path) == entry["sha256"]
            else:
                sound = _readable(path, shard_range(shard, meta["shard_size"], meta["count"]))
                if sound:
                    self._record(shard, path.stat().st_size, file_sha256(path))
            if sound:
                complete.add(shard)
            else:
                path.unlink(missing_ok=True)
                self.entries.pop(shard, None)
                removed.append(shard)
        return complete, removed

    def compact(self, meta: dict[str, Any]) -> Path:
        """Rewrite the index atomically, one line per shard of the set in shard order; returns its path."""
        total = shard_count(meta["count"], meta["shard_size"])
        lines = [self._line(self.entries[shard]) for shard in range(total) if shard in self.entries]
        write_atomically(self.path, "".join(lines).encode())
        return self.path


def _readable(path: Path, indices: range) -> bool:
    """Whether a shard file reads whole (every array, CRC-checked) and holds images ``indices``."""
    try:
        shard = read_shard(path)
    except DrSimError:
        return False
    return len(shard) == len(indices) == len(shard.labels) and shard.index.tolist() == list(indices)


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


def content_hash(root: str | Path) -> str:
    """SHA-256 (hex) of a complete data set's images and labels, shard by shard in index order.

    Two sets with the same hash hold the same pixels, depths, maps and labels, whatever wrote them (the
    backend, the number of workers, the machine); the bytes of the files themselves differ (zip times).
    """
    root = Path(root)
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
