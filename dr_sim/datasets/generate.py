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

Labels of an image: the config's ``objects`` first (category 1, ``target``), then every distractor shown
in that episode (category 2, in bank order); instance id ``j`` in the instance map is the ``j``-th of
them. ``visibility`` is the fraction of an object's unoccluded silhouette that is visible; the
silhouette is rendered (with every other object, distractor and robot moved away, the table and floor
kept) only when another body shows inside the object's image window, and then only that window.
"""

from __future__ import annotations

import argparse
import importlib
import math
import multiprocessing
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

import gymnasium as gym
import numpy as np
import pybullet as p
from gymnasium.envs.registration import load_env_creator

from dr_sim.datasets.config import GeneratorConfig, load_generator_config, resolved_dict
from dr_sim.datasets.shards import (
    DISTRACTOR,
    FLOOR,
    OTHER,
    TABLE,
    TARGET,
    Shard,
    complete_shards,
    depth_to_mm,
    make_meta,
    prepare_root,
    remove_stale_temporaries,
    shard_count,
    shard_path,
    shard_range,
    write_manifest,
    write_shard,
)
from dr_sim.errors import ConfigError, DrSimError, did_you_mean
from dr_sim.preview import quiet_native_stdout
from dr_sim.scene.camera import Camera
from dr_sim.scene.labels import (
    PARK_HEIGHT,
    body_pose,
    box_corners,
    local_box,
    object_label,
    project_points,
    semantic_map,
    unoccluded_pixels,
)

EXPORTS = ("coco",)
LOCK_FILE = ".lock"
POLL_S = 0.2  # s between progress updates while workers run


def seed_for(seed: int, index: int) -> int:
    """The reset seed of image ``index`` (a 64-bit integer drawn from ``SeedSequence([seed, index])``)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0])


# -- one env that renders images ------------------------------------------------------------------
class ImageSource:
    """One env of the generator config, rendering image ``i`` on demand (``render(i)``).

    dr_sim tasks are built with the randomization (state observations: a reset renders nothing);
    other registered envs are wrapped in ``DomainRandomization``.
    """

    def __init__(self, config: GeneratorConfig) -> None:
        with quiet_native_stdout():
            self.env, self.session, self._reset = _make_env(config)
        self.config = config
        try:
            names = self.session.scene.bodies
            missing = [name for name in config.objects if name not in names]
            if missing:
                hint = did_you_mean(missing[0], names)
                raise ConfigError(
                    f"objects: {config.env} has no body named {missing[0]!r}.{hint} Its bodies: {', '.join(names)}"
                )
            self.objects = [(name, names[name]) for name in config.objects]
            labelled = {body for _, body in self.objects}
            #: Bodies that may hide an object besides the shown distractors (a robot); the table and the
            #: floor are what objects rest on, never in front of them.
            self.others = [b for n, b in names.items() if n not in ("table", "plane") and b not in labelled]
            self.categories = {body: OTHER for body in names.values()}
            self.categories.update({names[n]: c for n, c in (("table", TABLE), ("plane", FLOOR)) if n in names})
            self.categories.update({body: TARGET for _, body in self.objects})
            # Measuring a local box moves the body and puts it back through a quaternion round trip
            # (last-bit changes): measure every box once, before the first image, so that an image never
            # depends on which images this env rendered before it. A first reset builds the distractors.
            self._reset(0)
            self._corners = {
                body: box_corners(*local_box(self.session.client_id, body))
                for body in [body for _, body in self.objects] + self._distractors()
            }
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the env (once; later calls do nothing)."""
        if self.env is not None:
            self.env.close()
            self.env = None

    def _distractors(self) -> list[int]:
        engine = self.session.engine
        return [] if engine.distractors is None else engine.distractors.bodies

    def render(self, index: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Image ``index``: arrays (``rgb``, ``depth_mm``, ``instance``, ``semantic``) and its labels."""
        seed = seed_for(self.config.seed, index)
        params = self._reset(seed)
        frame = self.session.render_frame(depth=True, segmentation=True)
        assert frame.body is not None
        assert frame.depth is not None
        camera = FrozenCamera(self.session.camera)
        client = camera.client_id
        shown = [
            (f"distractor{k}", body)
            for k, body in enumerate(self._distractors())
            if p.getBasePositionAndOrientation(body, physicsClientId=client)[0][2] > PARK_HEIGHT / 2
        ]
        entries = [(name, body, TARGET) for name, body in self.objects] + [(n, b, DISTRACTOR) for n, b in shown]
        if len(entries) > 255:
            raise DrSimError(f"image {index} has {len(entries)} objects; instance maps hold at most 255")
        visibility = {"none": (), "target": (TARGET,), "all": (TARGET, DISTRACTOR)}[self.config.visibility]
        movable = [body for _, body, _ in entries] + self.others
        objects = []
        for name, body, category in entries:
            corners = self._corners[body]
            unoccluded = None
            if category in visibility:
                occluders = [other for other in movable if other != body]
                unoccluded = silhouette_pixels(camera, frame.body, body, corners, occluders)
            label = object_label(camera, frame, name, body, category, corners, unoccluded).to_dict()
            position, orientation = p.getBasePositionAndOrientation(body, physicsClientId=client)
            label["position"], label["orientation"] = list(position), list(orientation)
            objects.append(label)
        categories = {**self.categories, **{body: DISTRACTOR for body in self._distractors()}}
        arrays = {
            "rgb": frame.rgb,
            "depth_mm": depth_to_mm(frame.depth),
            "instance": semantic_map(frame.body, {body: j + 1 for j, (_, body, _) in enumerate(entries)}),
            "semantic": semantic_map(frame.body, categories),
        }
        labels = {
            "index": index,
            "seed": seed,
            "randomization": params,
            "camera": {
                "K": camera.intrinsics().tolist(),
                "pose": camera.pose().tolist(),
                "width": camera.width,
                "height": camera.height,
            },
            "objects": objects,
            "target": {"position": objects[0]["position"]},
        }
        return arrays, labels

    def shard(self, shard: int, count: int, on_image: Callable[[], None] | None = None) -> Shard:
        """The images of ``shard`` (of a data set of ``count`` images) stacked into a ``Shard``."""
        indices = shard_range(shard, self.config.shard_size, count)
        rendered = []
        for index in indices:
            rendered.append(self.render(index))
            if on_image is not None:
                on_image()
        stacked = {key: np.stack([arrays[key] for arrays, _ in rendered]) for key in rendered[0][0]}
        return Shard(index=np.array(indices, dtype=np.int64), **stacked, labels=[labels for _, labels in rendered])


def _make_env(config: GeneratorConfig) -> tuple[Any, Any, Callable[[int], dict[str, Any]]]:
    """(env, its RandomizationSession, reset(seed) -> the episode's randomization parameters)."""
    import dr_sim  # noqa: F401  (registers the dr_sim/... ids)
    from dr_sim.envs.base import TabletopEnv
    from dr_sim.wrapper import DomainRandomization

    name = _registered_id(config.env)
    entry_point = gym.spec(name).entry_point
    creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
    is_task = isinstance(creator, type) and issubclass(creator, TabletopEnv)
    try:
        if is_task:
            env: Any = gym.make(
                name,
                randomization=config.randomization,
                obs_type="state",
                image_size=config.image_size,
                disable_env_checker=True,
                **config.env_kwargs,
            ).unwrapped
            return env, env.session, env.reset_scene
        wrapped = DomainRandomization(
            gym.make(name, disable_env_checker=True, **config.env_kwargs),
            config.randomization,
            obs_type=None,
            image_size=config.image_size,
        )
    except TypeError as error:
        raise ConfigError(f"env_kwargs of {name!r}: {error}") from None
    return wrapped, wrapped.session, lambda seed: wrapped.reset(seed=seed)[1]["randomization"]


def _registered_id(env_id: str) -> str:
    """The Gymnasium id of ``env`` (``module:id`` imports the module first); one error if unknown."""
    module, _, name = env_id.rpartition(":")
    try:
        if module:
            with quiet_native_stdout():
                importlib.import_module(module)
        elif name.startswith("Panda") and name.endswith("-v3") and name not in gym.registry:
            with quiet_native_stdout():
                importlib.import_module("panda_gym")
    except ImportError as error:
        raise ConfigError(f"env {env_id!r}: cannot import {module or 'panda_gym'!r} ({error})") from None
    if name not in gym.registry:
        hint = did_you_mean(name, list(gym.registry))
        raise ConfigError(
            f"env: unknown env id {name!r}.{hint} Use a registered Gymnasium id (for example "
            f"dr_sim/Localize-v0) or 'module:id' to import the module that registers it"
        )
    return name


# -- labels that need the camera many times --------------------------------------------------------
class FrozenCamera(Camera):
    """A camera's pose and intrinsics computed once: the labels of a frame ask for them per object."""

    def __init__(self, camera: Camera) -> None:
        super().__init__(camera.client_id, camera.width, camera.height, camera.state)
        self._pose = camera.pose()
        self._k = camera.intrinsics()

    def pose(self) -> np.ndarray:
        return self._pose.copy()

    def intrinsics(self) -> np.ndarray:
        return self._k.copy()


def silhouette_pixels(camera: Camera, seen: np.ndarray, body: int, corners: np.ndarray, occluders: list[int]) -> int:
    """Pixels of ``body``'s whole silhouette in ``camera`` with ``occluders`` moved away: the count of
    ``dr_sim.scene.labels.unoccluded_pixels``, rendering at most the image window that holds it.

    ``seen`` is the frame's body map (rendered in the current state). The silhouette lies inside the
    bounding rectangle of the projected local-box ``corners`` (plus a pixel): when no occluder shows
    in that window, nothing hides the body and its visible pixels are its silhouette (no render);
    else a camera with the same focal length and a shifted principal point renders exactly those
    pixels of the full image. When a corner lies behind the near plane the whole image is the window.
    """
    to_world = body_pose(camera.client_id, body)
    pixels, depth = project_points(camera, (to_world[:3, :3] @ corners.T).T + to_world[:3, 3])
    if np.any(depth <= camera.state.near):
        x0, y0, x1, y1 = 0, 0, camera.width, camera.height
    else:
        x0, y0 = (max(math.floor(value) - 1, 0) for value in pixels.min(axis=0))
        x1 = min(math.ceil(pixels[:, 0].max()) + 1, camera.width)
        y1 = min(math.ceil(pixels[:, 1].max()) + 1, camera.height)
    if x1 <= x0 or y1 <= y0:
        return 0
    window = seen[y0:y1, x0:x1]
    if not np.isin(window, occluders).any():
        return int(np.count_nonzero(window == body))
    k = camera.intrinsics()
    state = camera.state.copy()
    width, height = x1 - x0, y1 - y0
    state.fov = math.degrees(2 * math.atan(0.5 * height / k[1, 1]))
    state.principal_point = np.array([k[0, 2] - x0 - width / 2, k[1, 2] - y0 - height / 2])
    return unoccluded_pixels(Camera(camera.client_id, width, height, state), body, occluders)


# -- progress ---------------------------------------------------------------------------------------
class Progress:
    """A one-line progress bar on ``stream``: images done of the total and images/s of this run.

    On a terminal the line is redrawn in place (at most 10 times a second); elsewhere (a log file) a
    line is printed every 10 s.
    """

    def __init__(self, total: int, done: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total, self.start_done, self.done = total, done, done
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = self.last = time.perf_counter()
        self.interval = 0.1 if self.tty else 10.0

    def rate(self) -> float:
        """Images per second rendered by this run so far."""
        elapsed = time.perf_counter() - self.start
        return (self.done - self.start_done) / elapsed if elapsed > 0 else 0.0

    def update(self, done: int, *, final: bool = False) -> None:
        self.done = done
        now = time.perf_counter()
        if not self.enabled or (not final and now - self.last < self.interval):
            return
        self.last = now
        width = 30
        filled = int(width * done / self.total) if self.total else width
        line = (
            f"generate [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} images {self.rate():.1f} images/s"
        )
        self.stream.write(f"\r{line}" if self.tty else f"{line}\n")
        if final and self.tty:
            self.stream.write("\n")
        self.stream.flush()


# -- workers ----------------------------------------------------------------------------------------
def _worker_main(config: dict[str, Any], root: str, count: int, tasks: Any, results: Any) -> None:
    """A worker process: one env; takes shard numbers from ``tasks`` until ``None``; reports to ``results``
    ``("image",)`` per image, ``("shard", n)`` per shard written, or ``("error", kind, message)``."""
    try:
        source = ImageSource(GeneratorConfig.model_validate(config))
        try:
            while (shard := tasks.get()) is not None:
                data = source.shard(shard, count, lambda: results.put(("image",)))
                write_shard(shard_path(Path(root), shard), data, compress=source.config.compress)
                results.put(("shard", shard))
        finally:
            source.close()
    except ConfigError as error:
        results.put(("error", "config", str(error)))
    except DrSimError as error:
        results.put(("error", "dr_sim", str(error)))
    except Exception:
        results.put(("error", "bug", traceback.format_exc()))


def _start_quietly(processes: list[Any]) -> None:
    """Start worker processes with a silent stdout (PyBullet prints on import and connect) and Ctrl-C
    ignored from their first instruction on (the parent terminates them; no traceback per worker)."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    try:
        with quiet_native_stdout():
            for process in processes:
                process.start()
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)


def _run_pool(config: dict[str, Any], root: Path, count: int, pending: list[int], workers: int, bar: Progress) -> None:
    """Render ``pending`` shards with ``workers`` spawned processes; on any error or Ctrl-C the workers
    are terminated (a shard being written is then absent: it was never renamed into place)."""
    context = multiprocessing.get_context("spawn")
    tasks, results = context.Queue(), context.Queue()
    for shard in pending:
        tasks.put(shard)
    processes = [
        context.Process(target=_worker_main, args=(config, str(root), count, tasks, results), daemon=True)
        for _ in range(workers)
    ]
    for _ in processes:
        tasks.put(None)
    try:
        _start_quietly(processes)
        written, images = 0, bar.done
        while written < len(pending):
            try:
                message = results.get(timeout=POLL_S)
            except queue.Empty:
                dead = [proc.exitcode for proc in processes if proc.exitcode not in (None, 0)]
                if dead:
                    raise DrSimError(f"a generator worker died (exit code {dead[0]}); rerun to resume") from None
                if all(proc.exitcode is not None for proc in processes):
                    raise DrSimError(
                        "the generator workers ended before every shard was written; rerun to resume"
                    ) from None
                continue
            if message[0] == "image":
                images += 1
                bar.update(images)
            elif message[0] == "shard":
                written += 1
            else:
                _, kind, text = message
                if kind == "config":
                    raise ConfigError(text)
                if kind == "dr_sim":
                    raise DrSimError(text)
                raise RuntimeError(f"a generator worker failed:\n{text}")
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join()
        tasks.close()
        results.close()


# -- the command --------------------------------------------------------------------------------------
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
        with _Lock(root):
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
                    _run_pool(resolved, root, count, pending, min(workers, len(pending)), bar)
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


class _Lock:
    """Hold an exclusive lock on ``root/.lock`` (two runs into one folder would race); released when
    the process ends, however it ends."""

    def __init__(self, root: Path) -> None:
        self.path = root / LOCK_FILE
        self.handle: Any = None

    def __enter__(self) -> None:
        try:
            import fcntl
        except ImportError:  # no advisory locks on this platform: run unguarded
            return
        self.handle = open(self.path, "a")  # held until __exit__
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.close()
            raise DrSimError(
                f"another dr-sim generate is writing {str(self.path.parent)!r}; wait for it to end"
            ) from None

    def __exit__(self, *_: object) -> None:
        if self.handle is not None:
            self.handle.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``generate`` subcommand's arguments."""
    from dr_sim.cli import positive_int

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
    """The subcommand on its own (``python -m dr_sim.datasets.generate CONFIG --out DIR -n N``), with
    the CLI's error handling: one line on stderr and exit code 2."""
    from dr_sim.cli import ArgumentError, _Parser, fail

    parser = _Parser(prog="dr-sim generate", description=(__doc__ or "").split("\n\n")[0])
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except ArgumentError as error:
        return fail(f"{error} (see 'dr-sim generate --help')")
    except DrSimError as error:
        return fail(str(error))
    except KeyboardInterrupt:
        print("dr-sim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
