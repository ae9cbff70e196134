"""Peng et al. 2018's dynamics-randomization study on PuckPush: which policies transfer to unseen dynamics.

``python -m dr_sim.peng_study launch/peng_study.yaml [--out DIR] [--only NAME ...] [--timesteps N]``

Four policies, each a ``kind: rl`` training config (``dr_sim.policies.rl_config``): the study's ``base``
with the policy's keys laid over it (top-level keys replace the base's whole):

- ``a_nominal``: no randomization;
- ``b_dynamics``: dynamics randomization with Peng's ranges where they apply (the ``physics`` preset:
  masses, damping, friction, controller gains, latency, observation and action noise);
- ``c_history``: (b) plus the last k observations and actions (``dr_sim.policies.history``);
- ``d_recurrent``: a recurrent policy (RecurrentPPO, sb3-contrib) under the same randomization.

Each is evaluated (``dr_sim.policies.rl_evaluation``) on every domain of ``domains``: ``nominal``, a
preset (``physics``: the training domain of b-d) and the held-out ``shifts`` (randomization YAMLs in
``shifts_folder``, outside the training ranges), ``episodes`` deterministic episodes each (seeds
10_000 + i), and optionally audited (success against each dynamics parameter, ``audit_episodes`` per
value; 0 skips). The scripted controller (``dr_sim.policies.controllers``) is scored on the same
domains as a reference for how hard each shift is.

Output (``out``): ``policies/NAME/`` (each a run folder with ``evaluation.json`` and ``audit.json``),
``results.json``, ``results.md`` (the table, budgets, wall times and the goals met or not),
``results.png`` (success per domain and policy) and ``audit.png``. Rerunning resumes: trained policies
(``training.json``) and finished evaluations are kept; a policy trained with other settings is an error.

Goals, on the shifted domains pooled: (a) <= 0.5 success, (b) >= 0.85, (c) and (d) >= (b); each policy
trains within 30 minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from dr_sim.config.loader import read_source, read_yaml_mapping, validated
from dr_sim.config.params import StrictModel
from dr_sim.errors import ConfigError

GOAL_NOMINAL_MAX = 0.5
GOAL_DYNAMICS_MIN = 0.85
GOAL_TRAIN_S = 30 * 60.0
POOLED = "shifted (pooled)"
REFERENCE = "scripted (reference)"


class StudyConfig(StrictModel):
    """The study (see ``launch/peng_study.yaml`` for each key)."""

    out: str = "runs/peng_study"
    episodes: int = Field(default=100, gt=0)
    audit_episodes: int = Field(default=0, ge=0)
    seed: int = Field(default=10_000, ge=0)  # episode i of every domain is reset with seed + i
    shifts_folder: str = "shifts"
    domains: list[str] = Field(min_length=1)
    shifts: list[str] = Field(min_length=1)
    reference: bool = True
    base: dict[str, Any]
    policies: dict[str, dict[str, Any]] = Field(min_length=1)


def load_study(source: str | Path | Mapping[str, Any], base: Path | None = None) -> tuple[StudyConfig, Path]:
    """The validated study and the folder its relative paths start from (the YAML's; else ``base`` or ``.``)."""
    data, origin, folder = read_source(source, "study config", base)
    config = validated(StudyConfig, data, origin)
    missing = [name for name in config.shifts if name not in config.domains]
    if missing:
        raise ConfigError(f"{origin}: shifts {missing} must also be listed in domains")
    return config, folder


class Study:
    """Train, evaluate and report the policies of a ``StudyConfig``."""

    def __init__(self, config: StudyConfig, folder: Path, out: str | Path | None = None, log: Any = None) -> None:
        self.config, self.folder = config, folder
        self.out = Path(out or config.out)
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.domains = {name: self._domain(name) for name in config.domains}

    def _domain(self, name: str) -> Any:
        """A domain as ``resolve_domain`` takes it: shift names become paths in the shifts folder."""
        from dr_sim.config import PRESETS

        if name == "nominal" or name in PRESETS or name.lower().endswith((".yaml", ".yml")):
            return name if not name.lower().endswith((".yaml", ".yml")) else str(self.folder / name)
        path = self.folder / self.config.shifts_folder / f"{name}.yaml"
        if not path.is_file():
            raise ConfigError(f"shift {name!r}: {path} does not exist")
        return str(path)

    def policy_config(self, name: str) -> Any:
        """The resolved training config of a policy (randomization paths relative to the study's YAML)."""
        from dr_sim.policies.rl_config import load_rl_config

        data = {**self.config.base, **self.config.policies[name], "out": str(self.out / "policies" / name)}
        randomization = data.get("randomization")
        if isinstance(randomization, str) and randomization.lower().endswith((".yaml", ".yml")):
            data["randomization"] = str(self.folder / randomization)
        try:
            return load_rl_config(data)
        except ConfigError as error:
            raise ConfigError(f"policies.{name}: {error}") from None

    def train(self, name: str) -> dict[str, Any]:
        """Train a policy unless its run folder holds a finished training; its ``training.json``."""
        from dr_sim.policies.rl_training import CONFIG_FILE, TRAINING_FILE, load_run_config, resolved_config, train

        config = self.policy_config(name)
        run = Path(config.out)
        if (run / TRAINING_FILE).is_file():
            if resolved_config(load_run_config(run)) != resolved_config(config):
                raise ConfigError(
                    f"{run} was trained with other settings than {name!r} now has; delete it or choose another --out"
                )
            self.log(f"{name}: trained already ({run / TRAINING_FILE})")
        else:
            (run / CONFIG_FILE).unlink(missing_ok=True)
            self.log(f"{name}: training {config.algo} for {config.total_timesteps:,} steps")
            train(config, self.log, progress=True)
        return json.loads((run / TRAINING_FILE).read_text())

    def evaluate(self, name: str) -> dict[str, Any]:
        """The policy's results per domain (kept from an earlier run with the same domains and episodes)."""
        from dr_sim.policies.rl_evaluation import EVALUATION_FILE, evaluate, write_evaluation

        run = self.out / "policies" / name
        cached = _cached(run / f"{EVALUATION_FILE}.json", self.config.episodes, self.config.seed)
        if cached and list(cached["domains"]) == list(self.domains):
            return cached
        self.log(f"{name}: evaluating on {', '.join(self.domains)} ({self.config.episodes} episodes each)")
        results = evaluate(run, list(self.domains.values()), self.config.episodes, self.config.seed)
        results["domains"] = dict(zip(self.domains, results["domains"].values(), strict=True))
        write_evaluation(results, run)
        return results

    def audit(self, name: str) -> dict[str, Any] | None:
        """The policy's sensitivity audit (``audit_episodes`` per value), or ``None`` when switched off."""
        from dr_sim.policies.rl_evaluation import AUDIT_FILE, audit

        if not self.config.audit_episodes:
            return None
        run = self.out / "policies" / name
        cached = _cached(run / f"{AUDIT_FILE}.json", self.config.audit_episodes, self.config.seed)
        if cached:
            return cached
        self.log(f"{name}: auditing ({self.config.audit_episodes} episodes per value)")
        result = audit(run, self.config.audit_episodes, seed=self.config.seed)
        (run / f"{AUDIT_FILE}.json").write_text(json.dumps(result, indent=1) + "\n")
        return result

    def reference(self) -> dict[str, Any]:
        """The scripted controller's success per domain (the same seeds), when the env has one."""
        from dr_sim.policies.controllers import CONTROLLERS
        from dr_sim.policies.controllers.evaluate import success_rate
        from dr_sim.policies.rl_evaluation import resolve_domain

        env = self.config.base.get("env", "dr_sim/PuckPush-v0")
        if not self.config.reference or env not in CONTROLLERS:
            return {}
        config = self.policy_config(next(iter(self.config.policies)))
        results = {}
        for label, domain in self.domains.items():
            _, randomization = resolve_domain(domain, config)
            success = success_rate(env, self.config.episodes, randomization, self.config.seed, **config.env_kwargs)
            low, high = success.interval
            results[label] = {
                "successes": success.successes,
                "episodes": success.episodes,
                "success_rate": success.rate,
                "ci_low": low,
                "ci_high": high,
            }
        return results

    def run(self, only: Sequence[str] | None = None) -> dict[str, Any]:
        """Train, evaluate and audit every policy (or those in ``only``), then write the report."""
        from dr_sim.policies.rl_evaluation import plot_audit

        names = list(self.config.policies)
        unknown = [name for name in only or [] if name not in names]
        if unknown:
            raise ConfigError(f"--only: unknown policy {unknown[0]!r}; the study has {', '.join(names)}")
        for name in names:  # every config error before any training
            self.policy_config(name)
        policies = {}
        for name in only or names:
            training = self.train(name)
            results = self.evaluate(name)
            policies[name] = {"training": training, "domains": results["domains"], "audit": self.audit(name)}
        summary = summarize(self.config, policies, self.reference())
        write_report(summary, self.out)
        audits = {name: entry["audit"]["parameters"] for name, entry in policies.items() if entry["audit"]}
        if audits:
            plot_audit(audits, self.out / "audit.png")
        return summary


def _cached(path: Path, episodes: int, seed: int) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return data if data.get("episodes") == episodes and data.get("seed") == seed else None


# -- the report ---------------------------------------------------------------------------------------
def pooled(domains: Mapping[str, Mapping[str, Any]], shifts: Sequence[str]) -> dict[str, Any] | None:
    """The shifted domains' episodes together: successes, rate and Wilson 95% interval."""
    from dr_sim.policies.controllers.evaluate import Success

    rows = [domains[name] for name in shifts if name in domains]
    if not rows:
        return None
    success = Success(sum(row["successes"] for row in rows), sum(row["episodes"] for row in rows))
    low, high = success.interval
    return {
        "successes": success.successes,
        "episodes": success.episodes,
        "success_rate": success.rate,
        "ci_low": low,
        "ci_high": high,
    }


def goals(policies: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The study's goals (policies named ``a_...`` to ``d_...``), each with its value and whether it is met."""
    by_letter = {name.split("_")[0]: name for name in policies}
    rate = {letter: policies[name]["domains"][POOLED]["success_rate"] for letter, name in by_letter.items()}
    found: list[dict[str, Any]] = []
    if "a" in rate:
        found.append({"goal": f"(a) shifted success <= {GOAL_NOMINAL_MAX}", "value": rate["a"]})
        found[-1]["met"] = rate["a"] <= GOAL_NOMINAL_MAX
    if "b" in rate:
        found.append({"goal": f"(b) shifted success >= {GOAL_DYNAMICS_MIN}", "value": rate["b"]})
        found[-1]["met"] = rate["b"] >= GOAL_DYNAMICS_MIN
        for letter in ("c", "d"):
            if letter in rate:
                found.append({"goal": f"({letter}) shifted success >= (b)'s {rate['b']:.2f}", "value": rate[letter]})
                found[-1]["met"] = rate[letter] >= rate["b"]
    return found + training_goals(policies, GOAL_TRAIN_S)


def training_goals(policies: Mapping[str, Mapping[str, Any]], limit_s: float) -> list[dict[str, Any]]:
    """One goal per policy: its training took at most ``limit_s`` seconds (the value in minutes)."""
    found = []
    for name, entry in policies.items():
        seconds = entry["training"]["wall_seconds"]
        found.append({"goal": f"{name} trains within {limit_s / 60:.0f} min", "value": seconds / 60})
        found[-1]["met"] = seconds <= limit_s
    return found


def summarize(
    config: StudyConfig, policies: Mapping[str, Mapping[str, Any]], reference: Mapping[str, Any]
) -> dict[str, Any]:
    """Everything the report shows, as plain data (``results.json``)."""
    entries, reference = with_pooled(policies, reference, config.shifts)
    return {
        "episodes": config.episodes,
        "seed": config.seed,
        "domains": config.domains,
        "shifts": config.shifts,
        "policies": entries,
        "reference": dict(reference),
        "goals": goals(entries),
        "config": config.model_dump(mode="json"),
    }


def with_pooled(
    policies: Mapping[str, Mapping[str, Any]], reference: Mapping[str, Any], shifts: Sequence[str]
) -> tuple[dict[str, dict[str, Any]], Mapping[str, Any]]:
    """Copies of the policies' entries and of the reference with the ``POOLED`` shifted domain added."""
    entries = {}
    for name, entry in policies.items():
        domains = dict(entry["domains"])
        domains[POOLED] = pooled(domains, shifts)
        entries[name] = {**entry, "domains": domains}
    if reference:
        reference = {**reference, POOLED: pooled(reference, shifts)}
    return entries, reference


def markdown(summary: Mapping[str, Any]) -> str:
    """The report: success [95% CI] per policy and domain, budgets and wall times, the goals."""
    from dr_sim.policies.rl_evaluation import success_cell

    columns = [*summary["domains"], POOLED]
    lines = [
        "# Peng et al. 2018 dynamics study on PuckPush",
        "",
        f"Success rate [Wilson 95% interval] over {summary['episodes']} deterministic episodes per domain "
        f"(seeds {summary['seed']} + i). Shifted domains (outside the training ranges): "
        f"{', '.join(summary['shifts'])}.",
        "",
        "| policy | algo | env steps | train min | " + " | ".join(columns) + " |",
        "|" + "---|" * (4 + len(columns)),
    ]
    for name, entry in summary["policies"].items():
        training = entry["training"]
        cells = [success_cell(entry["domains"][column]) if entry["domains"].get(column) else "-" for column in columns]
        lines.append(
            f"| {name} | {training['algo']} | {training['timesteps']:,} | {training['wall_seconds'] / 60:.1f} | "
            + " | ".join(cells)
            + " |"
        )
    if summary["reference"]:
        cells = [success_cell(summary["reference"][c]) if summary["reference"].get(c) else "-" for c in columns]
        lines.append(f"| {REFERENCE} | - | - | - | " + " | ".join(cells) + " |")
    lines += ["", "Mean return per domain:", "", "| policy | " + " | ".join(summary["domains"]) + " |"]
    lines.append("|" + "---|" * (1 + len(summary["domains"])))
    for name, entry in summary["policies"].items():
        cells = [f"{entry['domains'][domain]['mean_return']:.2f}" for domain in summary["domains"]]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Goals:", ""]
    for goal in summary["goals"]:
        lines.append(f"- {goal['goal']}: {goal['value']:.2f} ({'met' if goal['met'] else 'NOT met'})")
    return "\n".join(lines) + "\n"


def write_report(summary: Mapping[str, Any], out: Path, report: Callable[[Mapping[str, Any]], str] = markdown) -> None:
    """``results.json``, ``results.md`` (written by ``report``) and ``results.png`` in ``out``."""
    from dr_sim.policies.rl_evaluation import plot_success

    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "results.md").write_text(report(summary))
    by_policy = {name: entry["domains"] for name, entry in summary["policies"].items()}
    if summary["reference"]:
        by_policy[REFERENCE] = summary["reference"]
    plot_success(by_policy, out / "results.png", "PuckPush: success per domain (Wilson 95% intervals)")


# -- command line -------------------------------------------------------------------------------------
def add_policy_arguments(parser: argparse.ArgumentParser, example: str) -> None:
    """The arguments of a study of policies: its config (``example``), the output folder and the pilot
    overrides that ``apply_overrides`` lays over the config."""
    from dr_sim.arguments import positive_int

    parser.add_argument("config", metavar="CONFIG", help=f"study config ({example})")
    parser.add_argument("--out", default=None, help="output folder (default: the config's 'out')")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME", help="run only these policies")
    parser.add_argument("--timesteps", type=positive_int, default=None, help="env steps per policy (pilot runs)")
    parser.add_argument("--episodes", type=positive_int, default=None, help="episodes per domain (pilot runs)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The study's arguments."""
    from dr_sim.arguments import non_negative_int

    add_policy_arguments(parser, "launch/peng_study.yaml")
    parser.add_argument("--audit-episodes", type=non_negative_int, default=None, help="episodes per audit value")


def apply_overrides(data: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """``data`` (a study config mapping, changed in place and returned) with the command line's pilot
    overrides: ``--timesteps`` for every policy (the policies' own budgets dropped), ``--episodes`` and,
    where the command has it, ``--audit-episodes``."""
    if args.timesteps is not None:
        data["base"] = {**(data.get("base") or {}), "total_timesteps": args.timesteps}
        data["policies"] = {
            name: {key: value for key, value in (policy or {}).items() if key != "total_timesteps"}
            for name, policy in (data.get("policies") or {}).items()
        }
    if args.episodes is not None:
        data["episodes"] = args.episodes
    if getattr(args, "audit_episodes", None) is not None:
        data["audit_episodes"] = args.audit_episodes
    return data


def run(args: argparse.Namespace) -> int:
    """Run the study and print the markdown report."""
    data = apply_overrides(read_yaml_mapping(args.config, "study config"), args)
    config, folder = load_study(data, Path(args.config).parent)
    summary = Study(config, folder, args.out).run(args.only)
    print(markdown(summary), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m dr_sim.peng_study``: one line on stderr and exit code 2 on a bad config."""
    from dr_sim.arguments import module_main

    return module_main("dr_sim.peng_study", add_arguments, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
