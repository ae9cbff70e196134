"""The command line every study shares.

``python -m studies.<name> [CONFIG] [--out DIR] [--only POINT ...] [--set KEY=VALUE ...]``

- ``CONFIG``: the study's YAML (default: ``studies/<name>/config.yaml``); its relative paths start
  from its own folder.
- ``--out``: the output folder (default: ``runs/<name>`` in the checkout).
- ``--only``: compute only these points; the others are reported when cached.
- ``--set``: a dotted key of the config and a YAML value, e.g. ``--set training.epochs=2`` or
  ``--set sizes=[100,200]``; repeatable, applied in order before validation.

A bad config or argument ends in one line on stderr and exit code 2; Ctrl-C says how to resume.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from dr_sim.arguments import RESUME_HINT, add_set_argument, guarded, make_parser
from dr_sim.config.loader import read_source, validated
from dr_sim.config.overrides import apply_setting
from studies.harness.study import Study


def study_main(study: type[Study], doc: str | None, argv: Sequence[str] | None = None) -> int:
    """Parse the command line, validate the config, run ``study`` and print its report; the exit code."""
    prog = f"python -m studies.{study.name}"
    parser = make_parser(prog, (doc or prog).split("\n\n")[0])
    parser.add_argument(
        "config",
        nargs="?",
        default=str(study.default_config()),
        metavar="CONFIG",
        help=f"study config (default: studies/{study.name}/config.yaml)",
    )
    parser.add_argument("--out", default=None, help=f"output folder (default: runs/{study.name})")
    parser.add_argument("--only", nargs="+", default=None, metavar="POINT", help="compute only these points")
    add_set_argument(parser, "training.epochs=2")
    words = list(sys.argv[1:] if argv is None else argv)

    def run(args: argparse.Namespace) -> int:
        data, origin, folder = read_source(args.config, "study config")
        for assignment in args.settings:
            apply_setting(data, assignment)
        config = validated(study.config_model, data, origin)
        runner = study(config, folder, Path(args.out) if args.out else None)
        report = runner.run(args.only, command=shlex.join([*prog.split(), *words]))
        print(report.markdown(), end="")
        return 0

    return guarded(lambda: run(parser.parse_args(words)), prog, RESUME_HINT)
