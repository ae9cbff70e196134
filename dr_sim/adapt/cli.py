"""Translate randomized images into the canonical look: ``dr-sim adapt train`` and ``dr-sim adapt apply``.

``dr-sim adapt train CONFIG [--out RUN] [--quiet]`` renders paired images (randomized and canonical
looks of the same states, ``dr_sim.datasets.paired``) if the config asks for them, trains RCAN or
pix2pix on them (``dr_sim.adapt.config``) and writes a run folder (``dr_sim.adapt.run``): the resolved
config, the weights, the metrics and a picture of validation examples. With ``method: cyclegan``
(``dr_sim.adapt.cycle_config``) it learns, without pairs, to translate a sim data set toward a folder
of unlabelled target images, and its run folder also holds loss curves and a report with the gap
meter's AUC before and after translation (``dr_sim.adapt.cycle_run``).

``dr-sim adapt apply RUN IN_DIR OUT_DIR`` translates every image under ``IN_DIR`` with the run's
translator and writes the results, each at the size of its input, under the same file names in
``OUT_DIR`` (``dr_sim.adapt.apply``); a data set of ``dr-sim generate`` becomes a translated data set
with the same labels, manifest and COCO export (``dr_sim.adapt.apply_dataset``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dr_sim.adapt.config import load_adapt_config
from dr_sim.arguments import Parser, run_command
from dr_sim.config.loader import read_yaml_mapping
from dr_sim.extras import require

PURPOSE = "dr-sim adapt"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``adapt`` subcommand's arguments: ``train`` and ``apply``."""
    commands = parser.add_subparsers(dest="adapt_command", metavar="{train,apply}", parser_class=Parser, required=True)
    train = commands.add_parser(
        "train", help="train RCAN or pix2pix on paired renders, or CycleGAN toward unlabelled images (a YAML config)"
    )
    train.add_argument("config", metavar="CONFIG", help="adapt config, a YAML file (see dr_sim.adapt.config)")
    train.add_argument("--out", default=None, help="run folder (default: the config's 'out')")
    train.add_argument("--quiet", action="store_true", help="no progress on stderr")
    apply = commands.add_parser("apply", help="translate a folder of images, or a data set, with a trained run")
    apply.add_argument("run", metavar="RUN", help="run folder of 'dr-sim adapt train' (or its model.pt)")
    apply.add_argument(
        "in_dir",
        metavar="IN_DIR",
        help="folder of images (png/jpg, subfolders included) or a data set of dr-sim generate",
    )
    apply.add_argument("out_dir", metavar="OUT_DIR", help="folder for the translations (same names and sizes)")
    apply.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _log(quiet: bool) -> Callable[[str], None] | None:
    """A progress printer on stderr, or ``None`` when quiet."""
    return None if quiet else (lambda line: print(f"adapt: {line}", file=sys.stderr, flush=True))


def run(args: argparse.Namespace) -> int:
    """Run ``dr-sim adapt train`` or ``dr-sim adapt apply`` and print a summary."""
    require("torch", f"{PURPOSE} {args.adapt_command}")
    if args.adapt_command == "train":
        from dr_sim.adapt.run import METRICS_FILE, MODEL_FILE, train  # needs torch (extra: train)

        data = read_yaml_mapping(args.config, "adapt config")
        if args.out is not None:
            data["out"] = args.out
        folder = train(load_adapt_config(data, origin=args.config), _log(args.quiet))
        metrics = json.loads((folder / METRICS_FILE).read_text())
        if metrics["method"] == "cyclegan":
            print(cyclegan_summary(folder, metrics))
            return 0
        val = metrics["val_l1_levels"]
        shown = (
            ""
            if val is None
            else (f", validation L1 {val:.1f} levels (untranslated {metrics['val_l1_untranslated_levels']:.1f})")
        )
        print(
            f"trained {metrics['method']} {folder / MODEL_FILE} in {metrics['train_seconds']:.0f} s "
            f"({metrics['images_per_s']:.0f} images/s){shown}"
        )
        return 0
    from dr_sim.adapt.apply import apply_folder  # needs torch (extra: train)

    summary = apply_folder(args.run, args.in_dir, args.out_dir, _log(args.quiet))
    what = "a data set of " if summary.get("kind") == "dataset" else ""
    print(f"translated {what}{summary['images']} images into {summary['out']} (at {summary['image_size']} px)")
    return 0


def cyclegan_summary(folder: Path, metrics: dict[str, Any]) -> str:
    """The line ``dr-sim adapt train`` prints for a CycleGAN run."""
    line = (
        f"trained cyclegan {folder / 'model.pt'} in {metrics['train_seconds']:.0f} s "
        f"({metrics['images_per_s']:.1f} images/s)"
    )
    if metrics.get("consistency"):
        line += f", segmenter mean IoU on translations {metrics['consistency']['translated']['mean_iou']:.3f}"
    if metrics.get("gap"):
        gap = metrics["gap"]
        line += f", gap AUC {gap['before']['auc']:.3f} before and {gap['after']['auc']:.3f} after translation"
    return line + f"; report: {folder / 'report.md'}"


def main(argv: list[str] | None = None) -> int:
    """``python -m dr_sim.adapt.cli``: the same as ``dr-sim adapt`` (one-line errors, exit code 2)."""
    return run_command("dr-sim adapt", add_arguments, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
