"""The one harness every study runs on.

A study (``Study``) names its points as data (``Point``: a name, a group and the settings its result
depends on), computes one point into a folder, and turns the points' results into a ``Report`` (tables,
goals met or not, plots). The harness does the rest: the command line (``--out``, ``--only``,
``--set key=value``), a run cache keyed by a hash of each point's settings (``RunCache``: a rerun
resumes, a changed setting is computed afresh, never mistaken for a finished point), and the report
files (``results.json``, ``results.md`` headed by the date, the machine and the command, and the
study's plots).
"""

from dr_sim.config.overrides import apply_setting
from dr_sim.run_cache import RunCache, settings_hash
from studies.harness.cli import study_main
from studies.harness.report import Goal, Report, Table, cm_cell, goal_at_least, goal_at_most, success_cell
from studies.harness.study import Point, Study

__all__ = [
    "Goal",
    "Point",
    "Report",
    "RunCache",
    "Study",
    "Table",
    "apply_setting",
    "cm_cell",
    "goal_at_least",
    "goal_at_most",
    "settings_hash",
    "study_main",
    "success_cell",
]
