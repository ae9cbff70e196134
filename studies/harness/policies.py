"""The shape of a study of policies: several RL policies trained and evaluated over the same domains.

``PolicyStudyConfig`` is a ``base`` training config (``kind: rl``) with named ``policies`` laid over it
(``dr_sim.policies.policy_suite``), the evaluation ``domains`` (names ``dr-sim evaluate`` takes;
randomization YAMLs relative to the study's config) with the ``shifts`` among them that are pooled,
``episodes`` deterministic episodes per domain (episode ``i`` reset with ``seed + i``), an optional
audit, and the scripted controller as a reference. ``PolicyStudy`` makes one point per policy (its
training settings and the evaluation's) plus the reference, and reports success per domain with
Wilson 95% intervals, the shifted domains pooled, mean returns and training times. A study adds its
goals (``goals``) and, where it needs them, changes to a policy's config (``policy_keys``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from dr_sim.config.params import StrictModel
from dr_sim.policies.policy_suite import PolicySuite, pooled
from dr_sim.policies.rl_evaluation import resolve_domain
from studies.harness.report import Goal, Report, Table, goal_at_most, success_cell
from studies.harness.study import Point, Study

POOLED = "shifted (pooled)"
REFERENCE = "scripted (reference)"


class PolicyStudyConfig(StrictModel):
    """Policies over one base, the domains they are evaluated on and how."""

    episodes: int = Field(default=100, gt=0)
    audit_episodes: int = Field(default=0, ge=0)
    seed: int = Field(default=10_000, ge=0)  # episode i of every domain is reset with seed + i
    domains: list[str] = Field(min_length=1)
    shifts: list[str] = Field(min_length=1)
    reference: bool = True
    base: dict[str, Any]
    policies: dict[str, dict[str, Any] | None] = Field(min_length=1)

    def check_in_domains(self, names: list[str], what: str) -> None:
        """One ``ValueError`` naming the ``names`` (the ``what`` key's) that ``domains`` does not list."""
        missing = [name for name in names if name not in self.domains]
        if missing:
            raise ValueError(f"{what} {missing} must also be listed in domains")

    @model_validator(mode="after")
    def _shifts_are_domains(self) -> PolicyStudyConfig:
        self.check_in_domains(self.shifts, "shifts")
        return self


class PolicyStudy(Study):
    """One point per policy (trained in ``OUT/policies``, evaluated over the domains), plus the reference."""

    config: PolicyStudyConfig
    train_limit_s: float = 30 * 60.0  # each policy should train within this

    def __init__(self, config: PolicyStudyConfig, folder: Path, out: Path | None = None, log: Any = None) -> None:
        super().__init__(config, folder, out, log)
        policies = {name: {**(keys or {}), **self.policy_keys(name)} for name, keys in config.policies.items()}
        self.suite = PolicySuite(config.base, policies, self.out / "policies", self.folder, self.log)

    def policy_keys(self, name: str) -> dict[str, Any]:
        """Keys a study adds to policy ``name``'s config (none by default)."""
        return {}

    def evaluation(self) -> dict[str, Any]:
        """What an evaluation depends on: each domain's randomization as data, episodes and seed."""
        config = self.suite.config(next(iter(self.config.policies)))
        domains = {
            name: resolve_domain(domain, config)[1]
            for name, domain in zip(self.config.domains, self.suite.domains(self.config.domains), strict=True)
        }
        return {"domains": domains, "episodes": self.config.episodes, "seed": self.config.seed}

    def points(self) -> dict[str, Point]:
        evaluation = self.evaluation()
        points = {
            name: Point(
                name,
                {"training": self.suite.settings(name), **evaluation, "audit_episodes": self.config.audit_episodes},
                "policy",
            )
            for name in self.config.policies
        }
        if self.config.reference:
            env = {key: self.config.base.get(key) for key in ("env", "env_kwargs")}
            points["reference"] = Point("reference", {"scripted": env, **evaluation}, "reference")
        return points

    def compute(self, point: Point, folder: Path) -> dict[str, Any]:
        domains, episodes, seed = self.config.domains, self.config.episodes, self.config.seed
        if point.group == "reference":
            return {"domains": self.suite.scripted_reference(domains, episodes, seed)}
        run = self.suite.train(point.name)
        result = {"run": str(run), "training": self.suite.training(point.name)}
        result["domains"] = self.suite.evaluate(point.name, domains, episodes, seed)["domains"]
        if self.config.audit_episodes:
            result["audit"] = self.suite.audit(point.name, self.config.audit_episodes, seed)
        return result

    def with_pooled(self, results: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Each result's domains with the ``POOLED`` shifted domain added."""
        return {
            name: {**result, "domains": {**result["domains"], POOLED: pooled(result["domains"], self.config.shifts)}}
            for name, result in results.items()
        }

    def success_table(self, results: Mapping[str, dict[str, Any]], label: Mapping[str, str] | None = None) -> Table:
        """Success [95% CI] per policy and domain (``label`` renames domain columns), steps and minutes."""
        columns = [*self.config.domains, POOLED]
        table = Table("", ["policy", "algo", "env steps", "train min", *((label or {}).get(c, c) for c in columns)])
        for name, result in results.items():
            cells = [success_cell(result["domains"].get(column)) for column in columns]
            if "training" in result:
                training = result["training"]
                table.rows.append(
                    [
                        name,
                        training["algo"],
                        f"{training['timesteps']:,}",
                        f"{training['wall_seconds'] / 60:.1f}",
                        *cells,
                    ]
                )
            else:
                table.rows.append([REFERENCE, "-", "-", "-", *cells])
        return table

    def returns_table(self, results: Mapping[str, dict[str, Any]]) -> Table:
        """Mean return per policy and domain."""
        table = Table("Mean return per domain:", ["policy", *self.config.domains])
        for name, result in results.items():
            if "training" in result:
                table.rows.append([name, *(f"{result['domains'][d]['mean_return']:.2f}" for d in self.config.domains)])
        return table

    def training_goals(self, results: Mapping[str, dict[str, Any]]) -> list[Goal]:
        """One goal per policy: it trained within ``train_limit_s`` (value in minutes)."""
        minutes = self.train_limit_s / 60
        return [
            goal_at_most(f"{name} trains within {minutes:.0f} min", result["training"]["wall_seconds"] / 60, minutes)
            for name, result in results.items()
            if "training" in result
        ]

    def goals(self, results: Mapping[str, dict[str, Any]]) -> list[Goal]:
        """The study's own goals (the training times are added by ``report``)."""
        return []

    def intro(self) -> str:
        return (
            f"Success rate [Wilson 95% interval] over {self.config.episodes} deterministic episodes per domain "
            f"(seeds {self.config.seed} + i). Shifted domains (outside the training ranges): "
            f"{', '.join(self.config.shifts)}."
        )

    def title(self) -> str:
        return "Policies across domains"

    def report(self, results: dict[str, dict[str, Any]]) -> Report:
        results = self.with_pooled(results)
        policies = {name: result for name, result in results.items() if "training" in result}
        return Report(
            self.title(),
            [self.intro()],
            [self.success_table(results), self.returns_table(results)],
            self.goals(policies) + self.training_goals(policies),
            {"policies": results, "config": self.config.model_dump(mode="json")},
        )

    def plots(self, report: Report, out: Path) -> None:
        from dr_sim.policies.rl_evaluation import plot_audit, plot_success  # matplotlib (extra: train)

        by_policy = {
            REFERENCE if name == "reference" else name: result["domains"]
            for name, result in report.data["policies"].items()
        }
        plot_success(by_policy, out / "results.png", f"{self.title()}: success per domain (Wilson 95% intervals)")
        audits = {name: r["audit"]["parameters"] for name, r in report.data["policies"].items() if r.get("audit")}
        if audits:
            plot_audit(audits, out / "audit.png")
