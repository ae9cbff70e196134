"""Command-line plumbing shared by ``dr-sim`` and the ``python -m`` entry points: argparse types, a parser
whose errors become one line, and the runner that turns every expected failure into
``dr-sim: error: <message>`` on stderr with exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from dr_sim.errors import DrSimError

PROG = "dr-sim"
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
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
