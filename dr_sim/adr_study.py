"""OpenAI et al. 2019's automatic domain randomization study on PuckPush: do automatic ranges transfer as
well as hand-set ones?

``python -m dr_sim.adr_study launch/adr_study.yaml [--out DIR] [--only NAME ...] [--timesteps N] [--episodes N]``

Four policies, each a ``kind: rl`` training config: the study's ``base`` with the policy's keys laid over it,
as in the Peng study (``dr_sim.peng_study``, whose training, evaluation and report helpers this reuses):

- ``a_none``: no randomization;
- ``b_handset``: hand-set randomization (the ``physics`` preset, Peng's ranges: the Peng study's b);
- ``c_large``: a large fixed range (``launch/adr_large.yaml``);
- ``d_adr``: ADR (``dr_sim.adr``) over no randomization, its bounds starting at nominal, its hard limits
  the large range.

Each is evaluated on ``domains``: among them ``heldout``, the hand-set distribution (b's training domain,
never trained on by ADR), and the shifted ``shifts`` (``launch/shifts/``). During the ADR run, the policy is
evaluated ``progress_evaluations`` times on ``heldout`` (``progress_episodes`` deterministic episodes each),
so that held-out success can be plotted against ADR's entropy at that moment (OpenAI's Fig. 15).

Output (``out``): ``policies/NAME/`` run folders, ``results.json``, ``results.md`` (tables, budgets, the
final ADR ranges, the goals), ``results.png`` (success per domain), ``entropy.png`` (held-out success
against ADR entropy during training) and ``ranges.png`` (ADR's ranges over training). Rerunning resumes
as the Peng study does.

Goals: (d)'s pooled shifted success matches or beats (b)'s (at least (b)'s rate, or (b)'s rate inside (d)'s
Wilson 95% interval); held-out success rises with entropy (Spearman's rank correlation > 0); each policy
trains within 10 minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from dr_sim.config.loader import read_source, read_yaml_mapping, validated
from dr_sim.config.params import StrictModel
from dr_sim.errors import ConfigError
from dr_sim.peng_study import (
    POOLED,
    REFERENCE,
    Study,
    StudyConfig,
    add_policy_arguments,
    apply_overrides,
    load_study,
    training_goals,
    with_pooled,
)
from dr_sim.peng_study import write_report as write_policy_report

GOAL_TRAIN_S = 10 * 60.0


class AdrSettings(StrictModel):
    """The ADR study's keys beyond the Peng study's (see ``launch/adr_study.yaml``)."""

    heldout: str = "physics"
    progress_evaluations: int = Field(default=10, ge=1)
    progress_episodes: int = Field(default=20, ge=1)


def load_adr_study(
    source: str | Path | Mapping[str, Any], base: Path | None = None
) -> tuple[StudyConfig, Path, AdrSettings]:
    """The validated study, the folder its relative paths start from, and the ADR settings."""
    data, origin, folder = read_source(source, "study config", base)
    extras = {key: data.pop(key) for key in AdrSettings.model_fields if key in data}
    settings = validated(AdrSettings, extras, origin)
    config, folder = load_study(data, folder)
    if settings.heldout not in config.domains:
        raise ConfigError(f"{origin}: heldout {settings.heldout!r} must also be listed in domains")
    return config, folder, settings


class AdrStudy(Study):
    """The Peng study's training and evaluation, with held-out evaluations during ADR runs and ADR's report."""

    def __init__(
        self, config: StudyConfig, folder: Path, settings: AdrSettings, out: str | Path | None = None, log: Any = None
    ) -> None:
        super().__init__(config, folder, out, log)
        self.settings = settings

    def policy_config(self, name: str) -> Any:
        """The policy's training config; an ADR policy also evaluates on the held-out domain as it trains."""
        from dr_sim.policies.rl_config import expand_randomization

        config = super().policy_config(name)
        if config.adr is None:
            return config
        domain = self.domains[self.settings.heldout]
        heldout = expand_randomization(None if domain == "nominal" else domain)
        update = {
            "eval_freq": max(config.total_timesteps // self.settings.progress_evaluations, 1),
            "eval_episodes": self.settings.progress_episodes,
            "eval_randomization": heldout,
        }
        return config.model_copy(update=update)

    def run(self, only: Sequence[str] | None = None) -> dict[str, Any]:
        """Train and evaluate every policy (or those in ``only``), then write the report."""
        names = list(self.config.policies)
        unknown = [name for name in only or [] if name not in names]
        if unknown:
            raise ConfigError(f"--only: unknown policy {unknown[0]!r}; the study has {', '.join(names)}")
        configs = {name: self.policy_config(name) for name in names}  # every config error before any training
        policies = {}
        for name in only or names:
            training = self.train(name)
            policies[name] = {"training": training, "domains": self.evaluate(name)["domains"]}
            if configs[name].adr is not None:
                policies[name]["adr"] = adr_progress(Path(configs[name].out))
        summary = summarize(self.config, self.settings, policies, self.reference())
        write_report(summary, self.out, {name: configs[name] for name in policies})
        return summary


def adr_progress(run: Path) -> dict[str, Any]:
    """An ADR run's final ranges and entropy, and its held-out evaluations during training, each with the
    entropy of the ranges at that moment: ``{"bounds", "entropy", "progress": [{"steps", "entropy",
    "success_rate", "ci_low", "ci_high", "episodes"}]}``."""
    from dr_sim.adr.callback import read_history
    from dr_sim.policies.controllers.evaluate import Success
    from dr_sim.policies.rl_training import EVAL_FOLDER, TRAINING_FILE

    training = json.loads((run / TRAINING_FILE).read_text())
    history = read_history(run)
    progress = []
    evaluations = run / EVAL_FOLDER / "evaluations.npz"
    if evaluations.is_file() and history:
        data = np.load(evaluations)
        for steps, outcomes in zip(data["timesteps"], data["successes"], strict=True):
            entropy = [entry["entropy"] for entry in history if entry["steps"] <= steps][-1]
            success = Success(int(np.sum(outcomes)), len(outcomes))
            low, high = success.interval
            progress.append(
                {
                    "steps": int(steps),
                    "entropy": entropy,
                    "success_rate": success.rate,
                    "ci_low": low,
                    "ci_high": high,
                    "episodes": success.episodes,
                }
            )
    return {"bounds": training["adr_bounds"], "entropy": training["adr_entropy"], "progress": progress}


# -- the report ---------------------------------------------------------------------------------------
def rank_correlation(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (ties get their mean rank), or ``None`` for fewer than 3 points or no spread."""

    def ranks(values: Sequence[float]) -> np.ndarray:
        values = np.asarray(values, float)
        order = values.argsort(kind="stable")
        ranked = np.empty(len(values))
        ranked[order] = np.arange(len(values), dtype=float)
        for value in np.unique(values):  # ties: the mean of their ranks
            ranked[values == value] = ranked[values == value].mean()
        return ranked

    if len(x) < 3:
        return None
    rx, ry = ranks(x), ranks(y)
    if np.std(rx) == 0 or np.std(ry) == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def goals(policies: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The study's goals (policies named ``b_...`` hand-set and ``d_...`` ADR), each with its value and verdict."""
    by_letter = {name.split("_")[0]: name for name in policies}
    found: list[dict[str, Any]] = []
    if "b" in by_letter and "d" in by_letter:
        handset = policies[by_letter["b"]]["domains"][POOLED]
        adr = policies[by_letter["d"]]["domains"][POOLED]
        goal = f"(d) ADR shifted success matches or beats (b) hand-set's {handset['success_rate']:.2f}"
        met = adr["success_rate"] >= handset["success_rate"] or adr["ci_low"] <= handset["success_rate"]
        found.append({"goal": goal, "value": adr["success_rate"], "met": met})
    for name, entry in policies.items():
        progress = (entry.get("adr") or {}).get("progress") or []
        rho = rank_correlation([p["entropy"] for p in progress], [p["success_rate"] for p in progress])
        if progress:
            goal = f"{name}: held-out success rises with entropy (Spearman rho > 0)"
            value = float("nan") if rho is None else rho
            found.append({"goal": goal, "value": value, "met": rho is not None and rho > 0})
    return found + training_goals(policies, GOAL_TRAIN_S)


def summarize(
    config: StudyConfig,
    settings: AdrSettings,
    policies: Mapping[str, Mapping[str, Any]],
    reference: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything the report shows, as plain data (``results.json``)."""
    entries, reference = with_pooled(policies, reference, config.shifts)
    return {
        "episodes": config.episodes,
        "seed": config.seed,
        "domains": config.domains,
        "heldout": settings.heldout,
        "shifts": config.shifts,
        "policies": entries,
        "reference": dict(reference),
        "goals": goals(entries),
        "config": {**config.model_dump(mode="json"), **settings.model_dump(mode="json")},
    }


def markdown(summary: Mapping[str, Any]) -> str:
    """The report: success [95% CI] per policy and domain, budgets, ADR's final ranges, the goals."""
    from dr_sim.policies.rl_evaluation import success_cell

    columns = [*summary["domains"], POOLED]
    shown = [f"{c} (hand-set, held out)" if c == summary["heldout"] else c for c in columns]
    lines = [
        "# Automatic domain randomization study on PuckPush",
        "",
        f"Success rate [Wilson 95% interval] over {summary['episodes']} deterministic episodes per domain "
        f"(seeds {summary['seed']} + i). Held-out distribution: {summary['heldout']} (the hand-set policy's "
        f"training domain, never trained on by ADR). Shifted domains: {', '.join(summary['shifts'])}.",
        "",
        "| policy | env steps | train min | " + " | ".join(shown) + " |",
        "|" + "---|" * (3 + len(columns)),
    ]
    rows = [(name, entry["training"], entry["domains"]) for name, entry in summary["policies"].items()]
    for name, training, domains in rows:
        cells = [success_cell(domains[column]) if domains.get(column) else "-" for column in columns]
        minutes = training["wall_seconds"] / 60
        lines.append(f"| {name} | {training['timesteps']:,} | {minutes:.1f} | " + " | ".join(cells) + " |")
    if summary["reference"]:
        cells = [success_cell(summary["reference"][c]) if summary["reference"].get(c) else "-" for c in columns]
        lines.append(f"| {REFERENCE} | - | - | " + " | ".join(cells) + " |")
    for name, entry in summary["policies"].items():
        if not entry.get("adr"):
            continue
        adr = entry["adr"]
        lines += ["", f"{name}: final ADR ranges (entropy {adr['entropy']:.2f} nats per dimension):", ""]
        lines += ["| dimension | low | high |", "|---|---|---|"]
        lines += [f"| {dim} | {low:.4g} | {high:.4g} |" for dim, (low, high) in adr["bounds"].items()]
    lines += ["", "Goals:", ""]
    lines += [f"- {g['goal']}: {g['value']:.2f} ({'met' if g['met'] else 'NOT met'})" for g in summary["goals"]]
    return "\n".join(lines) + "\n"


def plot_entropy(progress: Sequence[Mapping[str, Any]], path: Path, title: str) -> Path:
    """PNG of held-out success (Wilson 95% interval) against ADR entropy, points joined in training order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entropy = [point["entropy"] for point in progress]
    rates = np.array([point["success_rate"] for point in progress])
    low = np.maximum(rates - [point["ci_low"] for point in progress], 0.0)
    high = np.maximum(np.array([point["ci_high"] for point in progress]) - rates, 0.0)
    figure, axis = plt.subplots(figsize=(5.0, 3.4), dpi=100)
    axis.plot(entropy, rates, color="0.7", lw=0.8, zorder=1)
    axis.errorbar(entropy, rates, yerr=[low, high], fmt="none", ecolor="0.6", capsize=2, zorder=2)
    dots = axis.scatter(entropy, rates, c=[point["steps"] for point in progress], cmap="viridis", zorder=3)
    figure.colorbar(dots, ax=axis, label="env steps")
    axis.set_xlabel("ADR entropy (nats per dimension)")
    axis.set_ylabel("held-out success rate")
    axis.set_ylim(-0.03, 1.03)
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def write_report(summary: Mapping[str, Any], out: Path, configs: Mapping[str, Any]) -> None:
    """``results.json``, ``results.md``, ``results.png`` and, for an ADR policy, ``entropy.png`` and ``ranges.png``."""
    from dr_sim.adr.callback import read_history
    from dr_sim.adr.plot import plot_ranges

    write_policy_report(summary, out, markdown)
    for name, entry in summary["policies"].items():
        if not entry.get("adr"):
            continue
        config = configs[name]
        if entry["adr"]["progress"]:
            plot_entropy(entry["adr"]["progress"], out / "entropy.png", f"{name}: success on {summary['heldout']}")
        plot_ranges(read_history(config.out), config.adr, out / "ranges.png", config.total_timesteps)


# -- command line -------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The study's arguments."""
    add_policy_arguments(parser, "launch/adr_study.yaml")


def run(args: argparse.Namespace) -> int:
    """Run the study and print the markdown report."""
    data = apply_overrides(read_yaml_mapping(args.config, "study config"), args)
    config, folder, settings = load_adr_study(data, Path(args.config).parent)
    summary = AdrStudy(config, folder, settings, args.out).run(args.only)
    print(markdown(summary), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m dr_sim.adr_study``: one line on stderr and exit code 2 on a bad config."""
    from dr_sim.arguments import module_main

    return module_main("dr_sim.adr_study", add_arguments, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
