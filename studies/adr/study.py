"""OpenAI et al. 2019's automatic domain randomization study on PuckPush: do automatic ranges transfer as
well as hand-set ones?

``python -m studies.adr [CONFIG] [--out DIR] [--only POINT ...] [--set KEY=VALUE ...]``

Four policies (``studies/harness/policies.py``, as the Peng study):

- ``a_none``: no randomization;
- ``b_handset``: hand-set randomization (the ``physics`` preset, Peng's ranges: the Peng study's b);
- ``c_large``: a large fixed range (``studies/adr/large.yaml``);
- ``d_adr``: ADR (``dr_sim.adr``) over no randomization, its bounds starting at nominal, its hard limits
  the large range.

Each is evaluated on ``domains``: among them ``heldout``, the hand-set distribution (b's training domain,
never trained on by ADR), and the named dynamics ``shifts``. During the ADR run, the policy is evaluated
``progress_evaluations`` times on ``heldout`` (``progress_episodes`` deterministic episodes each), so that
held-out success can be plotted against ADR's entropy at that moment (OpenAI's Fig. 15): ``entropy.png``,
with ADR's ranges over training in ``ranges.png``.

Goals: (d)'s pooled shifted success matches or beats (b)'s (at least (b)'s rate, or (b)'s rate inside (d)'s
Wilson 95% interval); held-out success rises with entropy (Spearman's rank correlation > 0); each policy
trains within 10 minutes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from dr_sim.adr.callback import read_history
from dr_sim.policies.rl_config import expand_randomization
from dr_sim.statistics import Success, rank_correlation
from studies.harness import Goal, Point, Report, Table
from studies.harness.policies import POOLED, PolicyStudy, PolicyStudyConfig
from studies.harness.report import pyplot

EVAL_FOLDER, TRAINING_FILE = "eval", "training.json"  # of an RL run folder (dr_sim.policies.rl_training)


class AdrStudyConfig(PolicyStudyConfig):
    """The Peng study's keys plus the held-out domain and the evaluations during ADR training."""

    heldout: str = "physics"
    progress_evaluations: int = Field(default=10, ge=1)
    progress_episodes: int = Field(default=20, ge=1)

    @model_validator(mode="after")
    def _heldout_is_a_domain(self) -> AdrStudyConfig:
        if self.heldout not in self.domains:
            raise ValueError(f"heldout {self.heldout!r} must also be listed in domains")
        return self


def adr_progress(run: Path) -> dict[str, Any]:
    """An ADR run's final ranges and entropy, and its held-out evaluations during training, each with the
    entropy of the ranges at that moment: ``{"bounds", "entropy", "progress": [{"steps", "entropy",
    "success_rate", "ci_low", "ci_high", "episodes", "successes"}]}``."""
    training = json.loads((run / TRAINING_FILE).read_text())
    history = read_history(run)
    progress = []
    evaluations = run / EVAL_FOLDER / "evaluations.npz"
    if evaluations.is_file() and history:
        data = np.load(evaluations)
        for steps, outcomes in zip(data["timesteps"], data["successes"], strict=True):
            entropy = [entry["entropy"] for entry in history if entry["steps"] <= steps][-1]
            success = Success(int(np.sum(outcomes)), len(outcomes)).as_dict()
            progress.append({"steps": int(steps), "entropy": entropy, **success})
    return {"bounds": training["adr_bounds"], "entropy": training["adr_entropy"], "progress": progress}


class AdrStudy(PolicyStudy):
    """The policy study with held-out evaluations during ADR runs and ADR's ranges in the report."""

    name = "adr"
    config_model = AdrStudyConfig
    config: AdrStudyConfig
    train_limit_s = 10 * 60.0

    def policy_keys(self, name: str) -> dict[str, Any]:
        """An ADR policy also evaluates on the held-out domain as it trains."""
        merged = {**self.config.base, **(self.config.policies[name] or {})}
        if merged.get("adr") is None:
            return {}
        domain = self.config.heldout
        randomization = None if domain == "nominal" else expand_randomization(domain)
        return {
            "eval_freq": max(int(merged["total_timesteps"]) // self.config.progress_evaluations, 1),
            "eval_episodes": self.config.progress_episodes,
            "eval_randomization": randomization,
        }

    def compute(self, point: Point, folder: Path) -> dict[str, Any]:
        result = super().compute(point, folder)
        if point.group == "policy" and self.suite.config(point.name).adr is not None:
            result["adr"] = adr_progress(Path(result["run"]))
        return result

    def title(self) -> str:
        return "Automatic domain randomization study on PuckPush"

    def intro(self) -> str:
        return (
            super().intro() + f" Held-out distribution: {self.config.heldout} (the hand-set policy's training "
            "domain, never trained on by ADR)."
        )

    def goals(self, policies: Mapping[str, Mapping[str, Any]]) -> list[Goal]:
        letters = {name.split("_")[0]: name for name in policies}
        found = []
        if "b" in letters and "d" in letters:
            handset = policies[letters["b"]]["domains"][POOLED]
            adr = policies[letters["d"]]["domains"][POOLED]
            met = adr["success_rate"] >= handset["success_rate"] or adr["ci_low"] <= handset["success_rate"]
            goal = f"(d) ADR shifted success matches or beats (b) hand-set's {handset['success_rate']:.2f}"
            found.append(Goal(goal, adr["success_rate"], met))
        for name, policy in policies.items():
            progress = (policy.get("adr") or {}).get("progress") or []
            if progress:
                rho = rank_correlation([p["entropy"] for p in progress], [p["success_rate"] for p in progress])
                found.append(
                    Goal(
                        f"{name}: held-out success rises with entropy (Spearman rho > 0)",
                        rho,
                        rho is not None and rho > 0,
                    )
                )
        return found

    def report(self, results: dict[str, dict[str, Any]]) -> Report:
        report = super().report(results)
        for name, policy in report.data["policies"].items():
            if policy.get("adr"):
                adr = policy["adr"]
                table = Table(
                    f"{name}: final ADR ranges (entropy {adr['entropy']:.2f} nats per dimension):",
                    ["dimension", "low", "high"],
                )
                table.rows += [[dim, f"{low:.4g}", f"{high:.4g}"] for dim, (low, high) in adr["bounds"].items()]
                report.tables.append(table)
        return report

    def plots(self, report: Report, out: Path) -> None:
        from dr_sim.adr.plot import plot_ranges  # matplotlib (extra: train)

        super().plots(report, out)
        for name, policy in report.data["policies"].items():
            if not policy.get("adr"):
                continue
            config = self.suite.config(name)
            if policy["adr"]["progress"]:
                plot_entropy(
                    policy["adr"]["progress"], out / "entropy.png", f"{name}: success on {self.config.heldout}"
                )
            plot_ranges(read_history(policy["run"]), config.adr, out / "ranges.png", config.total_timesteps)


def plot_entropy(progress: Sequence[Mapping[str, Any]], path: Path, title: str) -> Path:
    """PNG of held-out success (Wilson 95% interval) against ADR entropy, points joined in training order."""
    plt = pyplot()
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
