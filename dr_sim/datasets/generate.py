"""Generate a randomized perception data set: RGB, metric depth, instance and semantic maps, exact labels.

``dr-sim generate CONFIG --out DIR -n N [--workers W] [--export coco]`` renders images ``0 .. N-1`` of
the scene that the generator config (``dr_sim.datasets.config``) describes into ``DIR`` (the format is
in ``dr_sim.datasets.shards``).

- Image ``i`` is the env reset with ``seed_for(config seed, i)``, rendered once with depth and
  segmentation: it is bit-identical whatever the number of workers and the order of the work.
- The work is whole shards; ``--workers W`` runs W processes (spawn), one env each. A progress bar on
  stderr shows images done and images/s.
- Rerunning the same command resumes: complete shards (a shard file exists only once complete) are
  skipped. After Ctrl-C or ``kill -9`` only complete shards remain; the result of a resumed run equals
  an uninterrupted one. Another config or ``-n`` into the same ``DIR`` is refused.
- ``manifest.jsonl`` is written from the shards at the end; ``--export coco`` then writes the COCO
  export (``dr_sim.datasets.coco``). On a complete ``DIR`` the same command only rewrites the manifest
  and exports, so this is also how to export an existing data set.

Labels: see ``dr_sim.datasets.source``; the worker pool and the folder lock: ``dr_sim.datasets.pool``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dr_sim.datasets.config import GeneratorConfig, load_generator_config, resolved_dict
from dr_sim.datasets.pool import DatasetLock, Progress, run_pool
from dr_sim.datasets.shards import (
    complete_shards,
    make_meta,
    prepare_root,
    remove_stale_temporaries,
    shard_count,
    shard_path,
    shard_range,
    write_manifest,
    write_shard,
)
from dr_sim.datasets.source import ImageSource
from dr_sim.errors import ConfigError

EXPORTS = ("coco",)
LOCK_FILE = ".lock"
POLL_S = 0.2  # s between progress updates while workers run


def generate(
    config: str | Path | dict[str, Any] | GeneratorConfig | None,
    out: str | Path,
    count: int,
    *,
    workers: int = 1,
    export: Iterable[str] = (),
    progress: bool = True,
    shards: Iterable[int] | None = None,
) -> dict[str, Any]:
    """Generate (or resume) ``count`` images into ``out``; see the module docstring.

    Args:
        config: a generator config (YAML path, dict or ``GeneratorConfig``).
        out: the data set folder (new, empty, or a previous run of the same config and count).
        count: number of images N.
        workers: processes rendering shards (1: in this process).
        export: formats to export once the set is complete (``coco``).
        progress: draw the progress bar on stderr.
        shards: render only these shards, in this order (to split or reorder the work); the manifest
            and exports wait for a run that completes the set.

    Returns:
        a summary: ``root``, ``images``, ``shards``, ``rendered`` and ``skipped`` shards, ``seconds``,
        ``images_per_s`` (of this run's rendering) and ``written`` (name -> path).
    """
    start = time.perf_counter()
    if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
        raise ConfigError(f"-n must be a positive number of images, got {count!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers <= 0:
        raise ConfigError(f"--workers must be a positive number of processes, got {workers!r}")
    export = list(export)
    unknown = [name for name in export if name not in EXPORTS]
    if unknown:
        raise ConfigError(f"--export {unknown[0]!r} is not a format; allowed: {', '.join(EXPORTS)}")
    resolved = resolved_dict(load_generator_config(config))
    settings = GeneratorConfig.model_validate(resolved)  # what every worker builds: files read already
    meta = make_meta(resolved, count)
    root = Path(out)
    total = shard_count(count, settings.shard_size)
    order = list(range(total)) if shards is None else list(shards)
    outside = [shard for shard in order if not 0 <= shard < total]
    if outside:
        raise ConfigError(f"shard {outside[0]} does not exist; {count} images make shards 0..{total - 1}")
    source = ImageSource(settings)  # the env is built once here, so every config error shows before any file
    try:
        prepare_root(root, meta)
        with DatasetLock(root):
            prepare_root(root, meta)  # again under the lock: a run that started beside this one may have won
            remove_stale_temporaries(root)
            pending = [shard for shard in order if shard not in complete_shards(root, meta)]
            bar = Progress(count, _images_in(complete_shards(root, meta), settings.shard_size, count), enabled=progress)
            try:
                if workers == 1 or len(pending) <= 1:
                    for shard in pending:
                        data = source.shard(shard, count, lambda: bar.update(bar.done + 1))
                        write_shard(shard_path(root, shard), data, compress=settings.compress)
                else:
                    source.close()  # the workers build their own
                    run_pool(resolved, root, count, pending, min(workers, len(pending)), bar)
            except KeyboardInterrupt:
                bar.update(bar.done, final=True)
                kept = len(complete_shards(root, meta))
                print(
                    f"interrupted: {kept} of {total} shards complete; rerun the same command to resume", file=sys.stderr
                )
                raise
            complete = complete_shards(root, meta)
            bar.update(_images_in(complete, settings.shard_size, count), final=True)
            rate = bar.rate()
            written = _finish(root, meta, export) if len(complete) == total else {}
    finally:
        source.close()
    return {
        "root": str(root),
        "images": count,
        "shards": total,
        "rendered": len(pending),
        "skipped": len(order) - len(pending),
        "seconds": time.perf_counter() - start,
        "images_per_s": rate,
        "written": written,
    }


def _images_in(shards: Iterable[int], shard_size: int, count: int) -> int:
    return sum(len(shard_range(shard, shard_size, count)) for shard in shards)


def _finish(root: Path, meta: dict[str, Any], export: list[str]) -> dict[str, str]:
    """The manifest, then the exports, of a complete data set; returns name -> path written."""
    written = {"manifest": str(write_manifest(root, meta))}
    if "coco" in export:
        from dr_sim.datasets.coco import export_coco

        written["coco"] = str(export_coco(root))
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``generate`` subcommand's arguments."""
    from dr_sim.arguments import positive_int

    parser.add_argument("config", metavar="CONFIG", help="generator config, a YAML file (see dr_sim.datasets.config)")
    parser.add_argument("--out", required=True, help="data set folder: new, empty, or a previous run to resume")
    parser.add_argument("-n", type=positive_int, required=True, help="number of images")
    parser.add_argument(
        "--workers", type=positive_int, default=1, help="processes rendering shards, one env each (default 1)"
    )
    parser.add_argument("--export", choices=EXPORTS, action="append", default=[], help="also export as COCO (coco)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    """Run ``dr-sim generate`` and print its summary."""
    summary = generate(args.config, args.out, args.n, workers=args.workers, export=args.export, progress=not args.quiet)
    resumed = f", {summary['skipped']} were complete already" if summary["skipped"] else ""
    rate = f", {summary['images_per_s']:.1f} images/s" if summary["rendered"] else ""
    print(
        f"{summary['images']} images in {summary['shards']} shards in {summary['root']} "
        f"({summary['rendered']} shards rendered{resumed}) in {summary['seconds']:.1f} s{rate}"
    )
    for name, path in summary["written"].items():
        print(f"wrote {name}: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m dr_sim.datasets.generate``: the same as ``dr-sim generate`` (one-line errors, exit code 2)."""
    from dr_sim.arguments import run_command

    return run_command("dr-sim generate", add_arguments, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
