"""Translate a data set of ``dr-sim generate`` with a trained translator: a copy in which only RGB changes.

``apply_dataset(IN_DIR, OUT_DIR, translate_images, record)`` (what ``dr-sim adapt apply RUN IN_DIR
OUT_DIR`` runs when ``IN_DIR`` holds ``dataset.json``; ``dr_sim.adapt.apply`` loads the run) writes into
``OUT_DIR``

- ``dataset.json`` and ``manifest.jsonl``: byte for byte those of ``IN_DIR``;
- ``shards/``: the same shard files (names, image indices, image size, compression), each with its
  ``rgb`` translated (at the translator's size, resized back to the data set's) and its depth, instance
  and semantic maps and labels unchanged; ``index.jsonl`` holds the new files' checksums;
- ``coco/``, when ``IN_DIR`` has a COCO export: the export of the translated shards (the same
  annotations, the translated images);
- ``translation.json``: the run, its method and image size (px), and the source data set.

The copy is built in a hidden sibling folder and moved to ``OUT_DIR`` when complete, so ``OUT_DIR``
never holds half a data set. ``OUT_DIR`` must be new or empty and not inside ``IN_DIR``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dr_sim.datasets.coco import COCO_FOLDER, export_coco
from dr_sim.datasets.shards import (
    MANIFEST_FILE,
    META_FILE,
    Shard,
    ShardIndex,
    check_complete,
    encode_shard,
    read_meta,
    read_shard,
    shard_count,
    shard_path,
)
from dr_sim.errors import ConfigError, DrSimError

TRANSLATION_FILE = "translation.json"


def _check_out(in_dir: Path, out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"OUT_DIR {str(out_dir)!r} is a file; give a new or empty folder for the translated data set")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise ConfigError(
            f"OUT_DIR {str(out_dir)!r} is not empty; give a new or empty folder for the translated data set"
        )
    resolved = out_dir.resolve()
    if resolved == in_dir.resolve() or in_dir.resolve() in resolved.parents:
        raise ConfigError(f"OUT_DIR {str(out_dir)!r} is IN_DIR or lies inside it; give another folder")


def apply_dataset(
    in_dir: str | Path,
    out_dir: str | Path,
    translate_images: Callable[[list[np.ndarray]], list[np.ndarray]],
    record: dict[str, Any],
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write the translated copy of the data set in ``in_dir`` into ``out_dir`` (module docstring).

    ``translate_images`` maps RGB uint8 images (H, W, 3) to their translations of the same size;
    ``record`` (the run, its method and image size) is written to ``translation.json`` with the source.
    Returns ``images``, ``out`` and ``kind`` (``dataset``)."""
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    meta = read_meta(in_dir)
    try:
        check_complete(in_dir, meta)
    except DrSimError as error:
        raise ConfigError(str(error)) from None
    _check_out(in_dir, out_dir)
    compress = bool(meta["config"].get("compress", False))
    building = out_dir.parent / f".{out_dir.name}.partial"
    shutil.rmtree(building, ignore_errors=True)  # a killed run's leftovers
    building.mkdir(parents=True)
    index = ShardIndex(building)
    shards = shard_count(meta["count"], meta["shard_size"])
    for k in range(shards):
        shard = read_shard(shard_path(in_dir, k))
        translated = translate_images(list(shard.rgb))
        copy = Shard(shard.index, shard.rgb.copy(), shard.depth_mm, shard.instance, shard.semantic, shard.labels)
        for i, image in enumerate(translated):
            copy.rgb[i] = image
        index.write_shard(k, encode_shard(copy, compress=compress))
        if log is not None:
            log(f"shard {k + 1}/{shards}")
    index.compact(meta)
    shutil.copyfile(in_dir / META_FILE, building / META_FILE)
    if (in_dir / MANIFEST_FILE).is_file():
        shutil.copyfile(in_dir / MANIFEST_FILE, building / MANIFEST_FILE)
    if (in_dir / COCO_FOLDER / "annotations.json").is_file():
        export_coco(building)
    record = {**record, "source": str(in_dir)}
    (building / TRANSLATION_FILE).write_text(json.dumps(record, indent=1) + "\n")
    if out_dir.is_dir():
        out_dir.rmdir()  # empty (checked above)
    os.replace(building, out_dir)
    return {"images": int(meta["count"]), "out": str(out_dir), "kind": "dataset"}
