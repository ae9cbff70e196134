"""``dr-sim train`` and ``dr-sim evaluate``: what a config or a run folder is decides who handles it.

A training config (YAML) names its ``kind``: ``pose`` (the perception network that regresses a target's
(x, y), ``dr_sim.policies.pose_training``), ``belief`` (keypoint belief maps, then PnP through the
calibrated camera: 6-DoF pose, ``dr_sim.policies.belief_training``), ``detect`` (a CenterNet object
detector, ``dr_sim.policies.detector_training``) or ``rl`` (a stable-baselines3 policy,
``dr_sim.policies.rl_training``). ``dr-sim evaluate RUN ...`` reads the kind from the run folder
(``config.yaml`` of an RL, belief or detect run, ``model.pt`` of a pose run) and parses the rest of the
command line with that kind's options:

- ``rl``: ``--domains nominal train <shift or YAML> ...``, ``-n``, ``--json``, ``--audit``, ``--workers``,
  ``--backend local|ray`` and ``--address auto|HOST:PORT`` (``dr_sim.backends``);
- ``pose``: ``--data [NAME=]DIR`` (repeatable), ``--json``;
- ``belief``: ``--data [NAME=]DIR`` (repeatable), ``--json``: translation and rotation error, ADD / ADD-S
  accuracy and ADD AUC with bootstrap intervals, with the true and with a miscalibrated camera pose;
- ``detect``: ``--data [NAME=]DIR`` (repeatable), ``--json``, ``--sheet PATH``: COCO AP, AP50, AP75 and
  AP by size with bootstrap intervals over images, and a sheet of detections.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from dr_sim.arguments import PROG, add_set_argument, make_parser
from dr_sim.config.loader import read_yaml_mapping
from dr_sim.config.overrides import read_with_overrides
from dr_sim.errors import ConfigError, MissingExtraError
from dr_sim.extras import require

# Imported by name when a config or a run of that kind comes: each needs the train extra (torch, SB3).
TRAINERS = {
    "pose": "dr_sim.policies.pose_training",
    "belief": "dr_sim.policies.belief_training",
    "rl": "dr_sim.policies.rl_training",
    "detect": "dr_sim.policies.detector_training",
}
EVALUATORS = {
    "pose": "dr_sim.policies.pose_training",
    "belief": "dr_sim.policies.belief_training",
    "rl": "dr_sim.policies.rl_evaluation",
    "detect": "dr_sim.policies.detector_training",
}
#: The heavy optional dependencies each kind imports (``dr_sim.extras``), checked first for a one-line error.
NEEDS = {
    "pose": ("torch",),
    "belief": ("torch",),
    "rl": ("torch", "stable_baselines3"),
    "detect": ("torch", "tensorboard", "pycocotools"),
}
RUN_CONFIG = "config.yaml"  # an RL, belief or detect run's resolved config
POSE_MODEL = "model.pt"  # a pose run's model


def kind_module(kind: str, name: str, command: str) -> ModuleType:
    """The module ``name`` that handles ``kind``, once the extras it needs are found installed."""
    for module in NEEDS[kind]:
        require(module, f"{PROG} {command} (kind: {kind})")
    return importlib.import_module(name)


def config_kind(data: Mapping[str, Any], where: str = "the config") -> str:
    """The ``kind`` of a training config, checked against the known kinds."""
    kind = data.get("kind")
    if kind not in TRAINERS:
        raise ConfigError(f"{where} needs 'kind', one of {', '.join(TRAINERS)}; got {kind!r}")
    return str(kind)


def run_kind(run: Path) -> str:
    """The kind of a run folder (or a pose model file) of ``dr-sim train``."""
    if run.is_file() and run.suffix == ".pt":
        return "pose"
    if (run / RUN_CONFIG).is_file():
        return config_kind(read_yaml_mapping(run / RUN_CONFIG, "run config"), f"run config {str(run / RUN_CONFIG)!r}")
    if (run / POSE_MODEL).is_file():
        return "pose"
    raise ConfigError(
        f"{str(run)!r} is not a run of 'dr-sim train': it holds neither {RUN_CONFIG} (an RL, belief or detect run) nor "
        f"{POSE_MODEL} (a pose run)"
    )


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """``dr-sim train``'s arguments (the same for every kind)."""
    parser.add_argument(
        "config", metavar="CONFIG", help="training config, a YAML file with 'kind:' rl, pose, belief or detect"
    )
    parser.add_argument("--out", default=None, help="run folder (default: the config's 'out')")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_set_argument(parser, "total_timesteps=2000")


def run_train(args: argparse.Namespace) -> int:
    """``dr-sim train CONFIG``: hand the config (with its ``--set`` overrides) to its kind's trainer."""
    data = read_with_overrides(args.config, args.settings, "training config")
    kind = config_kind(data, f"training config {args.config!r}")
    return int(kind_module(kind, TRAINERS[kind], "train").run_train(args))


class KindsHelp(argparse.Action):
    """``dr-sim evaluate --help``: the command's own help, then the options of every kind of run (each
    kind's module is imported only now; a kind whose extra is missing says how to install it)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        parser.print_help()
        for kind, name in EVALUATORS.items():
            print(f"\nOptions of a '{kind}' run:")
            try:
                module = kind_module(kind, name, "evaluate")
            except MissingExtraError as error:
                print(f"  ({error})")
                continue
            options = make_parser(prog=f"{PROG} evaluate RUN", description=f"evaluate a '{kind}' run")
            module.add_evaluate_arguments(options)
            print(options.format_help().split("\n\n", 1)[-1].rstrip())
        parser.exit()


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    """``dr-sim evaluate RUN [options of the run's kind]``."""
    parser.add_argument("-h", "--help", action=KindsHelp, nargs=0, help="show this help and every kind's options")
    parser.add_argument("run", metavar="RUN", help="run folder of 'dr-sim train' (or a pose model file)")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="the options of the run's kind (listed below)")


def run_evaluate(args: argparse.Namespace) -> int:
    """``dr-sim evaluate RUN ...``: parse the options for the run's kind and hand over."""
    kind = run_kind(Path(args.run))
    module = kind_module(kind, EVALUATORS[kind], "evaluate")
    parser = make_parser(prog=f"{PROG} evaluate", description=f"evaluate a '{kind}' run")
    module.add_evaluate_arguments(parser)
    return int(module.run_evaluate(parser.parse_args([args.run, *args.options])))
