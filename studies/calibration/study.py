"""Calibrated dynamics ranges on PuckPush: do a few target trajectories buy what hand-set ranges cannot?

``python -m studies.calibration [CONFIG] [--out DIR] [--only POINT ...] [--set KEY=VALUE ...]``

Targets (``domains``): the Peng study's five shifts and two harsher ones fixed before any result
(``harsh_laggy_damped.yaml``, ``harsh_heavy_weak.yaml``), each a constant-valued randomization that plays
the target system. For each target:

1. ``recording.episodes`` episodes of the scripted controller on it (``dr_sim.trajectories.record``);
2. ``dr-sim calibrate`` of the ``priors`` config to them (``calibration``: CMA-ES and DROPO's posterior on
   short-horizon replays, ``dr_sim.calibration``);
3. SAC trained on the calibrated ranges with the Peng study's base config and budget (``calibrated_T``),
   and the same with a history of the last ``history`` observations and actions (``calibrated_history_T``);
4. evaluated on that target (``episodes`` deterministic episodes, seeds ``seed + i``).

Baselines (``policies``, ``studies/harness/policies.py``, evaluated on every target): no randomization and
the hand-set ``physics`` preset (the Peng study's a and b: the same settings, trained into ``policy_runs``,
the Peng study's policy folder, so each is trained once for both studies), and ADR (the ADR study's
``d_adr`` keys on the Peng budget). The scripted controller is the reference. For ``curve.target``, the
calibrated policy is also trained from ``curve.episodes`` target episodes (success against data). For each
of the ``oracle`` targets, SAC is also trained on that target's own dynamics (``oracle_T``): what a perfect
calibration with a zero-width posterior would buy, the ceiling of the calibrated rows.

Goals: every calibrated policy reaches ``GOAL_SUCCESS`` on its target; each calibration takes at most
``GOAL_CALIBRATION_MIN`` minutes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from dr_sim.calibration.calibrate import calibrate
from dr_sim.calibration.parameters import ACTUATION_FIELDS, draws_at, find_parameters, physics_label
from dr_sim.calibration.report import draw_parameter
from dr_sim.config import load_config
from dr_sim.config.loader import read_yaml_mapping
from dr_sim.config.params import StrictModel
from dr_sim.policies.policy_suite import PolicySuite
from dr_sim.policies.rl_evaluation import resolve_domain
from dr_sim.randomizers.actuation import NEUTRAL
from dr_sim.trajectories.record import record
from studies.harness import Goal, Point, Report, Table, goal_at_least, goal_at_most, success_cell
from studies.harness.policies import REFERENCE, PolicyStudy, PolicyStudyConfig
from studies.harness.report import pyplot

GOAL_SUCCESS = 0.85
GOAL_CALIBRATION_MIN = 10.0
ROWS = {
    "a_nominal": "no randomization",
    "b_dynamics": "hand-set (physics)",
    "e_dynamics_history": "hand-set + history",
    "d_adr": "ADR",
}


class Recording(StrictModel):
    """The target episodes: ``episodes`` of the scripted controller, episode i reset with ``seed + i``."""

    episodes: int = Field(default=10, gt=0)
    seed: int = Field(default=0, ge=0)
    max_steps: int | None = Field(default=None, gt=0)


class Calibration(StrictModel):
    """``dr-sim calibrate``'s settings (see ``dr_sim.calibration.calibrate``)."""

    method: str = "both"
    horizon: int = Field(default=2, ge=0)
    stride: int = Field(default=4, ge=1)
    budget: int = Field(default=720, ge=4)
    posterior_budget: int = Field(default=20, ge=4)
    samples: int = Field(default=8, ge=2)
    point_samples: int = Field(default=2, ge=2)
    min_width: float = Field(default=0.1, ge=0.0, le=1.0)
    compare: list[str] | None = None
    seed: int = Field(default=0, ge=0)
    workers: int = Field(default=2, ge=1)  # not a setting of the result: any number gives the same bits

    def settings(self) -> dict[str, Any]:
        """What a calibration's result depends on (everything but ``workers``)."""
        return self.model_dump(exclude={"workers"})


class Curve(StrictModel):
    """Success against the number of target episodes, on one target."""

    target: str
    episodes: list[int] = Field(min_length=1)


class CalibrationStudyConfig(PolicyStudyConfig):
    """The policy study's keys plus the priors, the recording, the calibration and the curve."""

    priors: str = "priors.yaml"
    policy_runs: str | None = None  # baselines train here (the Peng study's folder); None: OUT/policies
    recording: Recording = Recording()
    calibration: Calibration = Calibration()
    history: int = Field(default=4, ge=1)
    curve: Curve | None = None
    oracle: list[str] = Field(default_factory=list)  # targets a policy is also trained on directly (ceiling)

    @model_validator(mode="after")
    def _oracles_are_domains(self) -> CalibrationStudyConfig:
        self.check_in_domains(self.oracle, "oracle targets")
        return self


def label(domain: str) -> str:
    """A domain's label: a shift's name, or a YAML's stem."""
    return Path(domain).stem if domain.lower().endswith((".yaml", ".yml")) else domain


def calibration_name(domain: str, episodes: int) -> str:
    """The cache name of a target's calibration from ``episodes`` episodes."""
    return f"calibrate_{label(domain)}_n{episodes}"


class CalibrationStudy(PolicyStudy):
    """Baselines over every target, and per target a calibration and the policies trained on it."""

    name = "calibration"
    config_model = CalibrationStudyConfig
    config: CalibrationStudyConfig

    def __init__(self, config: CalibrationStudyConfig, folder: Path, out: Path | None = None, log: Any = None):
        super().__init__(config, folder, out, log)
        runs = self.path(config.policy_runs) if config.policy_runs else self.out / "policies"
        self.suite = PolicySuite(config.base, config.policies, runs, self.folder, self.log)

    # -- what a calibrated point depends on ---------------------------------------------------------
    def target(self, domain: str) -> dict[str, Any] | None:
        """The target's randomization as data."""
        return resolve_domain(self.suite.domains([domain])[0], self.suite.config(next(iter(self.config.policies))))[1]

    def recording(self, domain: str, episodes: int) -> dict[str, Any]:
        env = {key: self.config.base.get(key) for key in ("env", "env_kwargs")}
        return {
            **env,
            "target": self.target(domain),
            **self.config.recording.model_dump(),
            "episodes": episodes,
        }

    def calibration(self, domain: str, episodes: int) -> dict[str, Any]:
        return {
            "recording": self.recording(domain, episodes),
            "priors": read_yaml_mapping(self.path(self.config.priors), "priors"),
            **self.config.calibration.settings(),
        }

    def calibrated_points(self) -> dict[str, Point]:
        """(name, domain, episodes, history) of every calibrated policy."""
        points = {}
        evaluation = {"episodes": self.config.episodes, "seed": self.config.seed}
        for domain, episodes in self.wanted_calibrations():
            suffix = label(domain) if episodes == self.config.recording.episodes else f"n{episodes}_{label(domain)}"
            for history in (False, True) if episodes == self.config.recording.episodes else (False,):
                name = f"calibrated{'_history' if history else ''}_{suffix}"
                settings = {
                    "calibration": self.calibration(domain, episodes),
                    "training": {**self.config.base, **({"history": self.config.history} if history else {})},
                    "domain": self.target(domain),
                    **evaluation,
                }
                points[name] = Point(name, settings, "calibrated", {"domain": domain, "episodes": episodes})
        return points

    def oracle_points(self) -> dict[str, Point]:
        """A policy trained on each ``oracle`` target's own dynamics, evaluated there."""
        evaluation = {"episodes": self.config.episodes, "seed": self.config.seed}
        points = {}
        for domain in self.config.oracle:
            name = f"oracle_{label(domain)}"
            training = {**self.config.base, "randomization": self.target(domain)}
            points[name] = Point(name, {"training": training, **evaluation}, "oracle", {"domain": domain})
        return points

    def points(self) -> dict[str, Point]:
        return {**super().points(), **self.calibrated_points(), **self.oracle_points()}

    # -- computing one --------------------------------------------------------------------------
    def calibrate_target(self, domain: str, episodes: int) -> dict[str, Any]:
        """Record the target and calibrate the priors to it (each cached); the calibration's summary."""
        settings = self.calibration(domain, episodes)
        recording = settings["recording"]

        def do_record(folder: Path) -> dict[str, Any]:
            self.log(f"{label(domain)}: recording {episodes} scripted episodes")
            summary = record(
                recording["env"],
                "scripted",
                recording["target"],
                episodes,
                folder / "trajectories",
                seed=recording["seed"],
                max_steps=recording["max_steps"],
            )
            return {key: summary[key] for key in ("root", "steps", "successes", "seconds")}

        recorded, _ = self.cache.run(f"record_{label(domain)}_n{episodes}", recording, do_record)

        def do_calibrate(folder: Path) -> dict[str, Any]:
            self.log(f"{label(domain)}: calibrating to {episodes} episodes")
            options = self.config.calibration.model_dump()
            result = calibrate(settings["priors"], recorded["root"], folder / "calibration", **options)
            return {key: result[key] for key in ("parameters", "discrepancy", "replays", "seconds", "written", "steps")}

        calibrated, _ = self.cache.run(calibration_name(domain, episodes), settings, do_calibrate)
        return {"recording": recorded, **calibrated}

    def wanted_calibrations(self) -> list[tuple[str, int]]:
        """(domain, episodes) of every calibration the study needs, once each: each target's from
        ``recording.episodes`` episodes, then the curve's other numbers of episodes."""
        wanted = [(domain, self.config.recording.episodes) for domain in self.config.domains]
        if self.config.curve is not None:
            wanted += [(self.config.curve.target, n) for n in self.config.curve.episodes]
        return list(dict.fromkeys(wanted))

    def cached_calibrations(self) -> list[tuple[str, int, dict[str, Any]]]:
        """(domain, episodes, summary) of every wanted calibration that has been computed."""
        found = []
        for domain, episodes in self.wanted_calibrations():
            summary = self.cache.cached(calibration_name(domain, episodes), self.calibration(domain, episodes))
            if summary is not None:
                found.append((domain, episodes, summary))
        return found

    def compute(self, point: Point, folder: Path) -> dict[str, Any]:
        if point.group == "oracle":
            domain = point.extra["domain"]
            return self.train_and_evaluate(point.name, {"randomization": self.target(domain)}, domain)
        if point.group != "calibrated":
            return super().compute(point, folder)
        domain, episodes = point.extra["domain"], point.extra["episodes"]
        calibrated = self.calibrate_target(domain, episodes)
        keys: dict[str, Any] = {"randomization": calibrated["written"]["config"]}
        if "history" in point.settings["training"]:
            keys["history"] = self.config.history
        return {**self.train_and_evaluate(point.name, keys, domain), "calibration": calibrated}

    def train_and_evaluate(self, name: str, keys: dict[str, Any], domain: str) -> dict[str, Any]:
        """Policy ``name`` (``keys`` over the base) trained into ``OUT/policies`` and evaluated on ``domain``."""
        suite = PolicySuite(self.config.base, {name: keys}, self.out / "policies", self.folder, self.log)
        run = suite.train(name)
        result = suite.evaluate(name, [domain], self.config.episodes, self.config.seed)
        return {
            "run": str(run),
            "training": suite.training(name),
            "domains": {label(domain): result["domains"][domain]},
        }

    # -- the report ------------------------------------------------------------------------------
    def title(self) -> str:
        return "Calibrated dynamics ranges on PuckPush"

    def report(self, results: dict[str, dict[str, Any]]) -> Report:
        points = self.points()
        targets = [label(domain) for domain in self.config.domains]
        main = self.config.recording.episodes
        table = Table(
            f"Success [Wilson 95% interval] on each target, {self.config.episodes} episodes (seeds {self.config.seed} "
            f"+ i); calibrated from {main} scripted episodes of that target:",
            ["policy", *targets],
        )
        for name, row in ROWS.items():
            if name in results:
                domains = results[name]["domains"]
                table.rows.append([row, *(success_cell(domains.get(d)) for d in self.config.domains)])
        for prefix, row in (
            ("calibrated", "calibrated"),
            ("calibrated_history", "calibrated + history"),
            ("oracle", "trained on the target itself (ceiling)"),
        ):
            cells = [success_cell((results.get(f"{prefix}_{t}") or {}).get("domains", {}).get(t)) for t in targets]
            table.rows.append([row, *cells])
        if "reference" in results:
            reference = results["reference"]["domains"]
            table.rows.append([REFERENCE, *(success_cell(reference.get(d)) for d in self.config.domains)])
        calibrations = Table(
            "Calibrations (each parameter's point estimate and, in brackets, posterior mean; minutes on the "
            "configured workers):",
            ["target", "episodes", "minutes", "replays", "discrepancy: prior mean -> point", "estimates"],
        )
        goals: list[Goal] = []
        for domain, episodes, calibration in self.cached_calibrations():
            discrepancy = calibration["discrepancy"]
            estimates = ", ".join(
                f"{r['label']} {r['point']:.3g} ({r['posterior']['mean']:.3g})"
                if r["point"] is not None
                else f"{r['label']} ({r['posterior']['mean']:.3g})"
                for r in calibration["parameters"]
            )
            calibrations.rows.append(
                [
                    label(domain),
                    str(episodes),
                    f"{calibration['seconds'] / 60:.1f}",
                    str(calibration["replays"]),
                    f"{discrepancy['prior_mean']:.3g} -> {discrepancy.get('point_estimate', float('nan')):.3g}",
                    estimates,
                ]
            )
            if episodes == main:
                goals.append(
                    goal_at_most(
                        f"{label(domain)}: calibration from {main} episodes within {GOAL_CALIBRATION_MIN:g} min",
                        calibration["seconds"] / 60,
                        GOAL_CALIBRATION_MIN,
                    )
                )
        for name, result in results.items():
            point = points.get(name)
            if point is not None and point.group == "calibrated" and point.extra["episodes"] == main:
                domain = label(point.extra["domain"])
                rate = result["domains"][domain]["success_rate"]
                goals.append(goal_at_least(f"{name} success >= {GOAL_SUCCESS}", rate, GOAL_SUCCESS))
        tables = [table, calibrations]
        if self.config.curve is not None:
            target = label(self.config.curve.target)
            curve = Table(f"Success on {target} against the number of target episodes:", ["episodes", "calibrated"])
            for n in self.config.curve.episodes:
                name = f"calibrated_{target}" if n == main else f"calibrated_n{n}_{target}"
                curve.rows.append([str(n), success_cell((results.get(name) or {}).get("domains", {}).get(target))])
            tables.append(curve)
        baselines = {name: result for name, result in results.items() if name in ROWS}
        return Report(
            self.title(),
            [self.intro()],
            tables,
            goals + self.training_goals(baselines),
            {"points": results, "config": self.config.model_dump(mode="json")},
        )

    def intro(self) -> str:
        return (
            f"Targets: {', '.join(label(d) for d in self.config.domains)}. Calibration priors: "
            f"`{self.config.priors}`; replays: {json.dumps(self.config.calibration.model_dump())}."
        )

    def goals(self, results: Mapping[str, Mapping[str, Any]]) -> list[Goal]:
        return []

    def plots(self, report: Report, out: Path) -> None:
        """``calibrations.png``: per target calibrated from ``recording.episodes`` episodes (a row), each
        parameter's prior against its calibrated range, the point estimate and the target's true value
        where the target sets it (``draw_parameter``); each calibration's own folder holds one plot per
        parameter too."""
        main = self.config.recording.episodes
        rows = [(domain, summary) for domain, episodes, summary in self.cached_calibrations() if episodes == main]
        if rows:
            plot_calibrations(self, rows, out / "calibrations.png")


def true_values(target: Mapping[str, Any]) -> dict[str, tuple[str, float]]:
    """The values of a target's dynamics by parameter label (``mass of pusher/*``, ``gain_scale``, as
    ``dr_sim.calibration.parameters`` labels them) with their ``op``: the constants its randomization sets,
    and the neutral actuation (gains x1, no whole-step latency) where it sets none. A link or joint value
    it leaves alone is the env's own and not known here (a ``scale`` of it is 1)."""
    found: dict[str, tuple[str, float]] = {
        name: ("set", float(NEUTRAL[name])) for name in ACTUATION_FIELDS if np.isfinite(NEUTRAL[name])
    }
    for section in ("links", "joints"):
        for entry in (target.get("physics") or {}).get(section, []):
            for name, spec in entry.items():
                if isinstance(spec, Mapping) and spec.get("type") == "constant":
                    found[physics_label(name, entry.get("select", "*"))] = (spec.get("op", "set"), float(spec["value"]))
    for name, spec in (target.get("actuation") or {}).items():
        if name in ACTUATION_FIELDS and isinstance(spec, Mapping) and spec.get("type") == "constant":
            found[name] = ("set", float(spec["value"]))
    return found


def plot_calibrations(study: CalibrationStudy, rows: list[tuple[str, Mapping[str, Any]]], path: Path) -> None:
    """One row per (target domain, calibration summary), one column per parameter of the priors."""
    plt = pyplot()
    priors = load_config(read_yaml_mapping(study.path(study.config.priors), "priors"))
    parameters = find_parameters(priors)
    prior_draws = [draws_at(priors, parameter) for parameter in parameters]
    figure, grid = plt.subplots(
        len(rows), len(parameters), figsize=(2.3 * len(parameters), 1.9 * len(rows)), squeeze=False
    )
    for axes_row, (domain, calibration) in zip(grid, rows, strict=True):
        calibrated = load_config(calibration["written"]["config"])
        truths = true_values(study.target(domain) or {})
        points = {row["label"]: row["point"] for row in calibration["parameters"]}
        for axes, parameter, prior in zip(axes_row, parameters, prior_draws, strict=True):
            op, value = truths.get(parameter.label, ("scale", 1.0) if parameter.op == "scale" else ("set", None))
            truth = value if op == parameter.op else None
            draw_parameter(axes, parameter, prior, draws_at(calibrated, parameter), points.get(parameter.label), truth)
            axes.set_yticks([])
            axes.xaxis.label.set_fontsize(7)
            axes.tick_params(labelsize=6)
            axes.tick_params(which="minor", labelbottom=False)
        axes_row[0].set_ylabel(label(domain), fontsize=8)
    grid[0][0].legend(fontsize=6)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)
