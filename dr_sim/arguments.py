"""Command-line plumbing shared by ``dr-sim`` and the ``python -m`` entry points: argparse types, a parser
whose errors become one line, and the runner that turns every expected failure into
``dr-sim: error: <message>`` on stderr with exit code 2, never a traceback.

Expected failures are a bad argument, a ``DrSimError`` and an ``OSError`` (a file or folder that cannot be
read or written: an ``--out`` under a file, a read-only folder, a full disk), which names its path."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from dr_sim.errors import DrSimError

PROG = "dr-sim"
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
#: The largest image side (px) the commands render: far larger images make PyBullet's renderer abort the
#: whole process (``std::bad_alloc``) instead of raising an error.
MAX_IMAGE_SIZE = 4096
RESUME_HINT = "interrupted; rerun the same command to resume"


class ArgumentError(Exception):
    """A bad command line argument (raised instead of argparse's usage dump and exit)."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors become one line, reported by ``run_command``."""

    def error(self, message: str) -> NoReturn:
        raise ArgumentError(message)


def make_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser whose errors end in one line (for options parsed in two stages, or a standalone module)."""
    return Parser(prog=prog, description=description)


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


def fraction(text: str) -> float:
    """argparse type: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def image_size(text: str) -> int:
    """argparse type: an image side in pixels, 1 to ``MAX_IMAGE_SIZE``."""
    value = positive_int(text)
    if value > MAX_IMAGE_SIZE:
        raise argparse.ArgumentTypeError(f"at most {MAX_IMAGE_SIZE} px, got {value}")
    return value


def os_error_message(error: OSError) -> str:
    """One line for a file system error: what went wrong and the path it concerns."""
    reason = error.strerror or str(error) or type(error).__name__
    paths = [str(path) for path in (error.filename, error.filename2) if path is not None]
    if not paths:
        return f"{reason} ({type(error).__name__})"
    shown = " -> ".join(repr(path) for path in paths)
    return f"{reason}: {shown} (check the path and its permissions)"


def add_set_argument(parser: argparse.ArgumentParser, example: str) -> None:
    """``--set KEY=VALUE`` (repeatable, into ``args.settings``): dotted config overrides with YAML values,
    applied by ``dr_sim.config.overrides``; ``example`` shows one in the help."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="settings",
        help=f"override a config key (dotted path, YAML value, e.g. {example}); repeatable, recorded with the run",
    )


def fail(message: str) -> int:
    """Print ``dr-sim: error: <message>`` (one line) on stderr and return the exit code 2."""
    line = " ".join(str(message).split())  # one line, whatever the message held
    print(f"{PROG}: error: {line}", file=sys.stderr)
    return EXIT_ERROR


def guarded(command: Callable[[], int], help_hint: str, interrupted: str = "interrupted") -> int:
    """Run ``command``; a bad argument, a ``DrSimError`` or Ctrl-C ends in one line and an exit code."""
    try:
        return int(command() or 0)
    except ArgumentError as error:
        return fail(f"{error} (see '{help_hint} --help')")
    except DrSimError as error:
        return fail(str(error))
    except OSError as error:
        return fail(os_error_message(error))
    except KeyboardInterrupt:
        print(f"{PROG}: {interrupted}", file=sys.stderr)
        return EXIT_INTERRUPTED


def run_command(
    prog: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
    doc: str | None,
    argv: Sequence[str] | None = None,
    interrupted: str = "interrupted",
) -> int:
    """A standalone command (``python -m ...``) with ``dr-sim``'s one-line errors."""
    parser = make_parser(prog, (doc or prog).split("\n\n")[0])
    add_arguments(parser)
    return guarded(lambda: run(parser.parse_args(sys.argv[1:] if argv is None else argv)), prog, interrupted)


def module_main(
    module: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
    doc: str | None,
    argv: Sequence[str] | None = None,
) -> int:
    """``python -m <module>`` of a resumable study: ``run_command`` with the hint to rerun on Ctrl-C."""
    return run_command(f"python -m {module}", add_arguments, run, doc, argv, RESUME_HINT)
