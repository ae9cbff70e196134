"""Generate a randomized perception data set: RGB, metric depth, instance and semantic maps, exact labels.

``dr-sim generate CONFIG --out DIR -n N [--workers W] [--backend local|ray [--address auto|HOST:PORT]]
[--export coco]`` renders images ``0 .. N-1`` of the scene that the generator config
(``dr_sim.datasets.config``) describes into ``DIR`` (the format is in ``dr_sim.datasets.shards``).

- Image ``i`` is the env reset with ``seed_for(config seed, i)``, rendered once with depth and
  segmentation: it is bit-identical whatever the number of workers and the order of the work.
- The work is whole shards; ``--workers W`` runs W workers, one env each: processes on this machine, or
  with ``--backend ray`` actors of a Ray cluster (``dr_sim.backends``). Workers return a shard's bytes
  and this process writes the file, so Ray nodes need no shared folder. A shard whose worker dies is
  rendered again by a fresh worker (twice at most). A progress bar on stderr shows images done and
  images/s (per shard with Ray).
- Rerunning the same command resumes: complete shards (a shard file exists only once complete) are
  skipped. After Ctrl-C or ``kill -9`` only complete shards remain; the result of a resumed run equals
  an uninterrupted one. Every shard file is first checked against its checksum in ``index.jsonl``: a
  shard that is missing, truncated or altered is rendered again. Another config or ``-n`` into the same
  ``DIR`` is refused.
- Before any env is built the memory the config implies is estimated (``estimate_memory``: texture
  pools, the distractor bank, the render buffers and a shard's images, per worker process) and printed
  on stderr; above the limit (``dr_sim.memory``, ``DR_SIM_MEMORY_LIMIT_MB``) the run is refused.
- ``manifest.jsonl`` is written from the shards at the end; ``--export coco`` then writes the COCO
  export (``dr_sim.datasets.coco``). On a complete ``DIR`` the same command only rewrites the manifest
  and exports, so this is also how to export an existing data set.

Labels: see ``dr_sim.datasets.source``; the shard worker, the progress bar and the folder lock:
``dr_sim.datasets.pool``; where workers run: ``dr_sim.backends``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dr_sim.arguments import positive_int, run_command
from dr_sim.backends import Backend, add_backend_arguments, backend_from_args, run_units
from dr_sim.config import load_config
from dr_sim.datasets.coco import export_coco
from dr_sim.datasets.config import GeneratorConfig, load_generator_config, resolved_dict
from dr_sim.datasets.pool import DatasetLock, ShardRenderer
from dr_sim.datasets.shards import (
    LABEL_BYTES,
    SHARD_BYTES_PER_PIXEL,
    ShardIndex,
    make_meta,
    prepare_root,
    remove_stale_temporaries,
    shard_count,
    shard_name,
    shard_range,
    write_manifest,
)
from dr_sim.errors import ConfigError
from dr_sim.memory import Estimate, check_memory, mib, randomization_estimate, render_estimate
from dr_sim.progress import Progress

EXPORTS = ("coco",)


def generate(
    config: str | Path | dict[str, Any] | GeneratorConfig | None,
    out: str | Path,
    count: int,
    *,
    workers: int = 1,
    backend: Backend | None = None,
    export: Iterable[str] = (),
    progress: bool = True,
    shards: Iterable[int] | None = None,
) -> dict[str, Any]:
    """Generate (or resume) ``count`` images into ``out``; see the module docstring.

    Args:
        config: a generator config (YAML path, dict or ``GeneratorConfig``).
        out: the data set folder (new, empty, or a previous run of the same config and count).
        count: number of images N.
        workers: workers rendering shards (local backend: 1 renders in this process).
        backend: where the workers run (``dr_sim.backends``; default: local processes).
        export: formats to export once the set is complete (``coco``).
        progress: draw the progress bar on stderr.
        shards: render only these shards, in this order (to split or reorder the work); the manifest
            and exports wait for a run that completes the set.

    Returns:
        a summary: ``root``, ``images``, ``shards``, ``rendered``, ``skipped``, ``repaired`` (shard files
        that failed their checksum, rendered again) and ``retried`` shards (runs repeated because a worker
        died), ``seconds``, ``images_per_s`` (of this run's rendering), ``written`` (name -> path) and
        ``memory`` (the estimate per worker process, bytes, and ``workers``).
    """
    start = time.perf_counter()
    if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
        raise ConfigError(f"-n must be a positive number of images, got {count!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers <= 0:
        raise ConfigError(f"--workers must be a positive number of workers, got {workers!r}")
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
    memory = check_memory(estimate_memory(settings, resolved["randomization"]), "each worker process of generate")
    backend = backend or Backend()
    with backend.open(workers):  # a Ray cluster that cannot be reached fails before any file
        renderer = ShardRenderer(resolved, count)  # one env here, so every config error shows before any file
        try:
            prepare_root(root, meta)
            if progress:  # the folder is good: say what the run will take
                total_memory = f"; {mib(memory.total * workers)} for {workers} workers" if workers > 1 else ""
                print(
                    f"generate: estimated memory per worker process {memory.describe()}{total_memory}", file=sys.stderr
                )
            with DatasetLock(root):
                prepare_root(root, meta)  # again under the lock: a run that started beside this one may have won
                remove_stale_temporaries(root)
                index = ShardIndex(root)
                complete, repaired = index.verify(meta)
                if repaired and progress:
                    print(f"generate: {_repaired_text(repaired)}; rendering them again", file=sys.stderr)
                pending = [shard for shard in order if shard not in complete]
                bar = Progress(
                    count, "generate", "images", done=_images_in(complete, settings.shard_size, count), enabled=progress
                )
                finished, partial = bar.done, {}  # images of the shards written; shard -> images rendered of it

                def on_tick(shard: int, images: int) -> None:
                    partial[shard] = images
                    bar.update(finished + sum(partial.values()))

                def on_result(shard: int, data: bytes) -> None:
                    nonlocal finished
                    index.write_shard(shard, data)  # the file exists only complete, then its checksum line
                    complete.add(shard)
                    partial.pop(shard, None)
                    finished += len(shard_range(shard, settings.shard_size, count))
                    bar.update(finished + sum(partial.values()))

                try:
                    retried = run_units(
                        ShardRenderer,
                        (resolved, count),
                        pending,
                        on_result,
                        workers=workers,
                        backend=backend,
                        on_tick=on_tick,
                        what="shard",
                        built=renderer,
                    )
                except KeyboardInterrupt:
                    bar.close()
                    kept = len(complete)
                    print(
                        f"interrupted: {kept} of {total} shards complete; rerun the same command to resume",
                        file=sys.stderr,
                    )
                    raise
                bar.update(_images_in(complete, settings.shard_size, count), final=True)
                rate = bar.rate()
                written = _finish(root, meta, export, index) if len(complete) == total else {}
        finally:
            renderer.close()
    return {
        "root": str(root),
        "images": count,
        "shards": total,
        "rendered": len(pending),
        "skipped": len(order) - len(pending),
        "repaired": len(repaired),
        "retried": retried,
        "seconds": time.perf_counter() - start,
        "images_per_s": rate,
        "written": written,
        "memory": {
            "per_process": memory.total,
            "workers": workers,
            "parts": dict(memory.parts),
            "described": memory.describe(),
        },
    }


def estimate_memory(settings: GeneratorConfig, randomization: dict[str, Any]) -> Estimate:
    """What one worker process of ``generate`` allocates for ``settings`` (its randomization given
    resolved): the randomization's texture pools and distractor bank, the render buffers of one image and
    the shard it builds (``shard_size`` images, their arrays, labels and encoded bytes)."""
    pixels = settings.image_size * settings.image_size
    shard = settings.shard_size * (pixels * SHARD_BYTES_PER_PIXEL + LABEL_BYTES)
    return (
        randomization_estimate(load_config(randomization))
        + render_estimate(settings.image_size)
        + Estimate(((f"a shard of {settings.shard_size} images", shard),))
    )


def _repaired_text(repaired: list[int]) -> str:
    names = ", ".join(shard_name(shard) for shard in repaired[:3]) + (" ..." if len(repaired) > 3 else "")
    return f"{len(repaired)} shard file(s) failed their checksum ({names})"


def _images_in(shards: Iterable[int], shard_size: int, count: int) -> int:
    return sum(len(shard_range(shard, shard_size, count)) for shard in shards)


def _finish(root: Path, meta: dict[str, Any], export: list[str], index: ShardIndex) -> dict[str, str]:
    """The checksum index in shard order, the manifest, then the exports, of a complete data set; returns
    name -> path written."""
    index.compact(meta)
    written = {"manifest": str(write_manifest(root, meta))}
    if "coco" in export:
        written["coco"] = str(export_coco(root))
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``generate`` subcommand's arguments."""
    parser.add_argument("config", metavar="CONFIG", help="generator config, a YAML file (see dr_sim.datasets.config)")
    parser.add_argument("--out", required=True, help="data set folder: new, empty, or a previous run to resume")
    parser.add_argument("-n", type=positive_int, required=True, help="number of images")
    parser.add_argument(
        "--workers", type=positive_int, default=1, help="workers rendering shards, one env each (default 1)"
    )
    add_backend_arguments(parser)
    parser.add_argument("--export", choices=EXPORTS, action="append", default=[], help="also export as COCO (coco)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    """Run ``dr-sim generate`` and print its summary."""
    summary = generate(
        args.config,
        args.out,
        args.n,
        workers=args.workers,
        backend=backend_from_args(args),
        export=args.export,
        progress=not args.quiet,
    )
    resumed = f", {summary['skipped']} were complete already" if summary["skipped"] else ""
    repaired = summary["repaired"]
    resumed += f", {repaired} failed their checksum and were rendered again" if repaired else ""
    retried = f", {summary['retried']} rendered again after a worker died" if summary["retried"] else ""
    rate = f", {summary['images_per_s']:.1f} images/s" if summary["rendered"] else ""
    print(
        f"{summary['images']} images in {summary['shards']} shards in {summary['root']} "
        f"({summary['rendered']} shards rendered{resumed}{retried}) in {summary['seconds']:.1f} s{rate}"
    )
    for name, path in summary["written"].items():
        print(f"wrote {name}: {path}")
    print(f"estimated memory per worker process: {summary['memory']['described']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m dr_sim.datasets.generate``: the same as ``dr-sim generate`` (one-line errors, exit code 2)."""
    return run_command("dr-sim generate", add_arguments, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
