"""Measure the domain gap between two image sets: can a classifier tell them apart, and how far apart
are their features and image statistics?

``dr-sim gap A B [--out DIR] [-n N] [--size 64] [--seed S] [--epochs E] [--json]``: A and B are each an
image folder (png/jpg), a data set folder of ``dr-sim generate`` or a generator config (generated into
``DIR/cache`` with ``N`` images); see ``dr_sim.gap.images``. The larger set is subsampled (seeded) to the
size of the smaller, every image is brought to ``--size`` px, and each side is split in half: a
train half and a held-out half. Then

- a small CNN learns to tell A from B on the train halves and is scored on the held-out halves: ROC
  AUC and accuracy with bootstrap 95% intervals (``dr_sim.gap.classifier``);
- an autoencoder learns to redraw both train halves; the KID of its features of the held-out halves,
  with a bootstrap 95% interval (``dr_sim.gap.features``);
- brightness, contrast, sharpness and colour histograms of each set (``dr_sim.gap.stats``).

``DIR`` (default ``runs/gap-report``) receives ``report.md``, ``gap.json``, ``histograms.png`` and
``telling.png`` (``dr_sim.gap.report``). ``--json`` prints the ``gap.json`` object, one line, on stdout.
Everything is a function of ``--seed`` (torch runs on one thread). A calibration: two samples of one
generator config (another ``seed`` in the config) should give an AUC interval that contains 0.5.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from dr_sim.arguments import non_negative_int, positive_int, run_command
from dr_sim.errors import ConfigError
from dr_sim.extras import require
from dr_sim.gap.images import ImageSet, check_source, identity, load_image_set
from dr_sim.gap.report import TELLING, telling_sheet, verdict, write_report
from dr_sim.gap.stats import compare, image_stats
from dr_sim.progress import Progress

DEFAULT_OUT = "runs/gap-report"
DEFAULT_N = 500
DEFAULT_SIZE = 64
DEFAULT_EPOCHS = 15
MIN_IMAGES = 20  # per side: 10 to train, 10 to score
MAX_SIZE = 512  # px
PURPOSE = "dr-sim gap"


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread inside the block (the measurement is small; results do not depend on
    the machine's thread count), then restore the previous setting."""
    torch = require("torch", PURPOSE)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _check_arguments(n: int, size: int, seed: int, epochs: int, out: Path) -> None:
    require("torch", PURPOSE)
    from dr_sim.gap.classifier import MIN_SIZE  # needs torch (extra: train)

    for name, value, least in (("-n", n, 1), ("--seed", seed, 0), ("--epochs", epochs, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"{name} must be an integer >= {least}, got {value!r}")
    if isinstance(size, bool) or not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ConfigError(f"--size must be a number of pixels from {MIN_SIZE} to {MAX_SIZE}, got {size!r}")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is a file; give a folder for the report")


def _balanced(images: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``count`` images drawn without replacement (all of them, in order, if that is all)."""
    if len(images) == count:
        return np.arange(count)
    return np.sort(rng.choice(len(images), count, replace=False))


def measure_gap(
    a: str | Path,
    b: str | Path,
    *,
    out: str | Path = DEFAULT_OUT,
    n: int = DEFAULT_N,
    size: int = DEFAULT_SIZE,
    seed: int = 0,
    epochs: int = DEFAULT_EPOCHS,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure the gap between A and B and write the report into ``out`` (see the module docstring).

    Args:
        a, b: image folders, data set folders or generator configs.
        out: the report folder; configs are generated into ``out/cache``.
        n: images generated from a config (at most this many read from a folder or data set).
        size: the common image size, px.
        seed: seeds the subsampling, the split, both networks and the bootstraps.
        epochs: training passes of the classifier and of the autoencoder.
        log: called with a line of progress now and then (``None``: silent).

    Returns:
        the result object of ``gap.json``: ``auc``, ``auc_ci``, ``accuracy``, ``accuracy_ci``,
        ``feature_distance``, ``feature_distance_ci`` (KID), ``n_a``, ``n_b`` (images used per side),
        ``n_test_a``, ``n_test_b`` (held out), ``stats``, ``a`` and ``b`` (their sources), ``files``,
        ``seconds`` (per stage) and the settings.
    """
    start = time.perf_counter()
    say = log or (lambda _: None)
    out = Path(out)
    _check_arguments(n, size, seed, epochs, out)
    for source in (a, b):
        check_source(source)  # both, before the slow part
    if identity(a, n) == identity(b, n):
        raise ConfigError(
            f"A and B are the same source ({str(a)!r} and {str(b)!r} give the same images); give two different "
            f"image sets (to calibrate: two samples of one config, with another seed in the second)"
        )
    set_a, set_b = (load_image_set(source, size, n, out / "cache", log) for source in (a, b))
    count = min(len(set_a), len(set_b))
    if count < MIN_IMAGES:
        smaller = "A" if len(set_a) <= len(set_b) else "B"
        raise ConfigError(
            f"{smaller} ({min(len(set_a), len(set_b))} images) is too small: the gap needs at least "
            f"{MIN_IMAGES} images per side (half to train, half to score)"
        )
    with one_torch_thread():
        return _measure(set_a, set_b, count, out, size, seed, epochs, say, start, progress=log is not None)


def _measure(
    set_a: ImageSet,
    set_b: ImageSet,
    count: int,
    out: Path,
    size: int,
    seed: int,
    epochs: int,
    say: Callable[[str], None],
    start: float,
    progress: bool,
) -> dict[str, Any]:
    """``measure_gap`` once the sets are loaded and checked: ``count`` images of each side are used;
    ``progress``: a bar of training epochs (classifier, then autoencoder) on stderr."""
    from dr_sim.gap.classifier import classify, split_sides  # needs torch (extra: train)
    from dr_sim.gap.features import feature_distance  # needs torch (extra: train)

    loaded = time.perf_counter()
    balance, halves, classifier_rng, feature_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    images_a = set_a.images[_balanced(set_a.images, count, balance)]
    images_b = set_b.images[_balanced(set_b.images, count, balance)]
    split = split_sides(count, count, halves)
    say(f"training the classifier, then the autoencoder, on {len(split.train_a)} + {len(split.train_b)} images")
    with contextlib.closing(Progress(2 * epochs, "gap", "epochs", enabled=progress)) as bar:
        classifier = classify(images_a, images_b, split, epochs, classifier_rng, progress=bar)
        features = feature_distance(images_a, images_b, split, epochs, feature_rng, progress=bar)
    stats_a, stats_b = image_stats(images_a), image_stats(images_b)
    result: dict[str, Any] = {
        "auc": classifier.auc,
        "auc_ci": classifier.auc_ci,
        "accuracy": classifier.accuracy,
        "accuracy_ci": classifier.accuracy_ci,
        "feature_distance": features.distance,
        "feature_distance_ci": features.ci,
        "feature_distance_kind": features.kind,
        "reconstruction_mse": features.reconstruction_mse,
        "n_a": count,
        "n_b": count,
        "n_test_a": len(split.test_a),
        "n_test_b": len(split.test_b),
        "a": {"source": set_a.source, "kind": set_a.kind, "root": set_a.root, "available": len(set_a)},
        "b": {"source": set_b.source, "kind": set_b.kind, "root": set_b.root, "available": len(set_b)},
        "size": size,
        "seed": seed,
        "epochs": epochs,
        "stats": compare(stats_a, stats_b),
    }
    telling = telling_sheet(images_a, images_b, *classifier.most_telling(TELLING))
    result["seconds"] = {
        "load": loaded - start,
        "classifier": classifier.seconds,
        "features": features.seconds,
        "total": time.perf_counter() - start,
    }
    write_report(out, result, stats_a, stats_b, telling)
    return result


def summary_lines(result: dict[str, Any]) -> list[str]:
    """The human-readable summary that ``run`` prints."""
    difference = result["stats"]["difference"]

    def ci(key: str, digits: int = 3) -> str:
        low, high = result[f"{key}_ci"]
        return f"{result[key]:.{digits}f} (95% CI {low:.{digits}f} to {high:.{digits}f})"

    return [
        f"A: {result['a']['source']} ({result['a']['kind']}), B: {result['b']['source']} ({result['b']['kind']}): "
        f"{result['n_a']} images each at {result['size']} px, {result['n_test_a']} per side held out",
        f"ROC AUC {ci('auc')}, accuracy {ci('accuracy')}",
        f"feature distance (KID) {ci('feature_distance', 4)}",
        f"B - A: brightness {difference['brightness']:+.1f}, contrast {difference['contrast']:+.1f} levels, "
        f"sharpness {difference['sharpness']:+.1f} levels²",
        verdict(result),
        f"wrote {result['files']['report']} (and gap.json, histograms.png, telling.png) "
        f"in {result['seconds']['total']:.1f} s",
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``gap`` subcommand's arguments."""
    parser.add_argument("a", metavar="A", help="image folder (png/jpg), data set folder or generator config (.yaml)")
    parser.add_argument("b", metavar="B", help="the other set, in any of the same forms")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"report folder (default {DEFAULT_OUT})")
    parser.add_argument(
        "-n",
        type=positive_int,
        default=DEFAULT_N,
        help=f"images generated from a config; at most this many read from a folder or data set (default {DEFAULT_N})",
    )
    parser.add_argument(
        "--size", type=positive_int, default=DEFAULT_SIZE, help=f"common image size, px (default {DEFAULT_SIZE})"
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the whole measurement (default 0)")
    parser.add_argument(
        "--epochs", type=positive_int, default=DEFAULT_EPOCHS, help=f"training passes (default {DEFAULT_EPOCHS})"
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    """Run ``dr-sim gap`` and print its summary (or its JSON object)."""
    log = None if args.json else (lambda line: print(f"gap: {line}", file=sys.stderr, flush=True))
    result = measure_gap(
        args.a, args.b, out=args.out, n=args.n, size=args.size, seed=args.seed, epochs=args.epochs, log=log
    )
    if args.json:
        print(json.dumps(result, separators=(",", ":")))
    else:
        print("\n".join(summary_lines(result)))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m dr_sim.gap.cli``: the same as ``dr-sim gap`` (one-line errors, exit code 2)."""
    return run_command("dr-sim gap", add_arguments, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
