"""The ``dr-sim`` command line: ``dr-sim {preview,generate,train,evaluate,gap,adapt,bench} ...``.

``adapt`` arrives with a later release and exits with code 2; the other subcommands are implemented.
Every expected failure (a ``DrSimError`` or a bad argument) ends in one line
``dr-sim: error: <message>`` on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

PROG = "dr-sim"
EXIT_ERROR = 2

#: Subcommands not implemented yet, with what they will do.
LATER = {
    "adapt": "adapt randomization ranges or a policy to target data",
}


class ArgumentError(Exception):
    """A bad command line argument (raised instead of argparse's usage dump and exit)."""


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors become one line, reported by ``main``."""

    def error(self, message: str) -> NoReturn:
        raise ArgumentError(message)


def make_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser whose errors end in ``dr-sim``'s one-line message (for options parsed in two stages)."""
    return _Parser(prog=prog, description=description)


def _int_at_least(text: str, least: int, kind: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a {kind} integer, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"expected a {kind} integer, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _int_at_least(text, 1, "positive")


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int_at_least(text, 0, "non-negative")


def build_parser() -> argparse.ArgumentParser:
    """The ``dr-sim`` parser with every subcommand."""
    from dr_sim import bench, experiments, preview
    from dr_sim.datasets import generate
    from dr_sim.gap import cli as gap_cli

    parser = _Parser(
        prog=PROG,
        description="Domain randomization for PyBullet + Gymnasium.",
        epilog="Run 'dr-sim COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
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
            experiments.add_train_arguments,
            experiments.run_train,
            "train a policy (kind: rl) or a pose network (kind: pose) from a YAML config",
            experiments.__doc__,
        ),
        (
            "evaluate",
            experiments.add_evaluate_arguments,
            experiments.run_evaluate,
            "evaluate a run of 'dr-sim train' across domains or held-out data",
            experiments.__doc__,
        ),
        (
            "gap",
            gap_cli.add_arguments,
            gap_cli.run,
            "measure the domain gap between two image sets (classifier AUC, feature distance, image statistics)",
            gap_cli.__doc__,
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
        )
        add_arguments(sub)
        runners[name] = run
    for name, purpose in LATER.items():
        sub = commands.add_parser(name, help=f"{purpose} (later release)", description=f"{purpose} (later release)")
        sub.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        runners[name] = _later(name)
    parser.set_defaults(runners=runners)
    return parser


def _later(name: str) -> Callable[[argparse.Namespace], int]:
    def run(_: argparse.Namespace) -> int:
        print(
            f"{PROG} {name}: not available yet, it arrives with a later release of dr_sim "
            f"(available now: preview, generate, train, evaluate, gap, bench)",
            file=sys.stderr,
        )
        return EXIT_ERROR

    return run


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dr-sim")
    except PackageNotFoundError:
        return "unknown"


def fail(message: str) -> int:
    """Print ``dr-sim: error: <message>`` (one line) on stderr and return the exit code 2."""
    line = " ".join(str(message).split())  # one line, whatever the message held
    print(f"{PROG}: error: {line}", file=sys.stderr)
    return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``dr-sim``; returns the exit code (0 ok, 2 error)."""
    from dr_sim.errors import DrSimError

    parser = build_parser()
    try:
        # Subcommands of a later release accept anything (their options are not defined yet).
        args, unknown = parser.parse_known_args(argv)
        if unknown and args.command not in LATER:
            raise ArgumentError(f"unrecognized arguments: {' '.join(unknown)}")
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_ERROR
        return int(args.runners[args.command](args) or 0)
    except ArgumentError as error:
        return fail(f"{error} (see '{PROG} --help')")
    except DrSimError as error:
        return fail(str(error))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
