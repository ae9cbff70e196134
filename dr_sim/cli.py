"""The ``dr-sim`` command line: ``dr-sim {preview,generate,train,evaluate,gap,adapt,bench} ...``.

Every expected failure (a ``DrSimError`` or a bad argument) ends in one line
``dr-sim: error: <message>`` on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version

from dr_sim import bench, preview, train_evaluate
from dr_sim.adapt import cli as adapt_cli
from dr_sim.arguments import EXIT_ERROR, PROG, ArgumentError, Parser, guarded
from dr_sim.calibration import calibrate
from dr_sim.datasets import generate
from dr_sim.gap import cli as gap_cli
from dr_sim.trajectories import record


def build_parser() -> argparse.ArgumentParser:
    """The ``dr-sim`` parser with every subcommand."""
    parser = Parser(
        prog=PROG,
        description="Domain randomization for PyBullet + Gymnasium.",
        epilog="Run 'dr-sim COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    runners: dict[str, Callable[[argparse.Namespace], int]] = {}

    # name, add_arguments, run, one-line purpose, description
    implemented = (
        (
            "preview",
            preview.add_arguments,
            preview.run,
            "render randomized episodes into a contact sheet and parameter histograms",
            preview.__doc__,
        ),
        (
            "generate",
            generate.add_arguments,
            generate.run,
            "render a randomized perception data set (RGB, depth, segmentation, exact labels)",
            generate.__doc__,
        ),
        (
            "train",
            train_evaluate.add_train_arguments,
            train_evaluate.run_train,
            "train a policy (kind: rl), a pose network (kind: pose) or a keypoint pose network (kind: belief)",
            train_evaluate.__doc__,
        ),
        (
            "evaluate",
            train_evaluate.add_evaluate_arguments,
            train_evaluate.run_evaluate,
            "evaluate a run of 'dr-sim train' across domains or held-out data",
            train_evaluate.__doc__,
        ),
        (
            "record",
            record.add_arguments,
            record.run,
            "record trajectories of any env (scripted controller or a trained run) for dr-sim calibrate",
            record.__doc__,
        ),
        (
            "calibrate",
            calibrate.add_arguments,
            calibrate.run,
            "infer dynamics parameters from target trajectories (CMA-ES, DROPO) into a randomization config",
            calibrate.__doc__,
        ),
        (
            "gap",
            gap_cli.add_arguments,
            gap_cli.run,
            "measure the domain gap between two image sets (classifier AUC, feature distance, image statistics)",
            gap_cli.__doc__,
        ),
        (
            "adapt",
            adapt_cli.add_arguments,
            adapt_cli.run,
            "train an image translator to the canonical look (RCAN, pix2pix) or apply one to a folder",
            adapt_cli.__doc__,
        ),
        (
            "bench",
            bench.add_arguments,
            bench.run,
            "measure memory growth, reset cost and step overhead against baselines",
            bench.__doc__,
        ),
    )
    for name, add_arguments, run, purpose, doc in implemented:
        sub = commands.add_parser(
            name,
            help=purpose,
            description=(doc or purpose).split("\n\n")[0],
            formatter_class=argparse.RawDescriptionHelpFormatter,
            conflict_handler="resolve",  # a command may give its own --help (evaluate lists every kind's options)
        )
        add_arguments(sub)
        runners[name] = run
    parser.set_defaults(runners=runners)
    return parser


def _version() -> str:
    try:
        return version("dr-sim")
    except PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``dr-sim``; returns the exit code (0 ok, 2 error)."""
    parser = build_parser()

    def command() -> int:
        args, unknown = parser.parse_known_args(argv)
        if unknown:
            raise ArgumentError(f"unrecognized arguments: {' '.join(unknown)}")
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_ERROR
        return int(args.runners[args.command](args) or 0)

    return guarded(command, PROG)


if __name__ == "__main__":
    sys.exit(main())
