"""The modular sim-to-real pipeline study (Tobin plus Peng) on ``dr_sim/PuckPush-v0``.

``python -m dr_sim.modular_study launch/modular_pipeline.yaml [--out DIR] [--episodes N]``

1. The state policy: the Peng study's policy named in ``policy`` (trained there when its run folder
   holds no finished training).
2. The pose network: trained by the ``kind: pose`` config ``perception`` on the training look (kept when
   its run folder holds a model trained with the same settings); the held-out photo textures are
   written first (``dr_sim.heldout``).
3. Evaluation, ``episodes`` deterministic episodes per domain (episode ``i`` reset with seed ``10_000 + i``):
   the policy on the true state (nominal, each shift), and the pipeline (``dr_sim.policies.modular``)
   in the training look, in the held-out look (a visual shift alone) and in the held-out look under each
   dynamics shift (a visual plus a dynamics shift). A diagnostic row shows the held-out look through the
   exact nominal camera: what the look costs without the camera's pose error. Per domain: success with its
   Wilson 95% interval, the mean return and the pose network's mean error along the episodes (cm).

``OUT`` gets ``results.json``, ``results.md`` and ``results.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from dr_sim.config.loader import read_source, read_yaml_mapping, validated
from dr_sim.config.params import StrictModel
from dr_sim.errors import ConfigError

STATE = "true state"
MODULAR = "modular (pose network)"
TRAINING_LOOK = "training look"
HELDOUT_LOOK = "held-out look"
EXACT_CAMERA = "held-out look, exact camera (diagnostic)"
VISUAL_AND_DYNAMICS = "held-out look + shifts (pooled)"
SHIFTED = "shifts (pooled)"


class PolicySource(StrictModel):
    """The state policy: a policy of a Peng study config (its YAML relative to the study's file)."""

    study: str
    name: str


class StudyConfig(StrictModel):
    """The study (see ``launch/modular_pipeline.yaml`` for each key)."""

    out: str = "runs/modular_pipeline"
    episodes: int = Field(default=100, gt=0)
    seed: int = Field(default=10_000, ge=0)
    policy: PolicySource
    perception: str
    look: str
    heldout_look: str
    shifts_folder: str = "shifts"
    shifts: list[str] = Field(min_length=1)


def load_study(source: str | Path | Mapping[str, Any], base: Path | None = None) -> tuple[StudyConfig, Path]:
    """The validated study and the folder its relative paths start from (the YAML's; else ``base`` or ``.``)."""
    data, origin, folder = read_source(source, "study config", base)
    config = validated(StudyConfig, data, origin)
    for key in ("perception", "look", "heldout_look"):
        path = folder / getattr(config, key)
        if not path.is_file():
            raise ConfigError(f"{origin}: {key}: {path} does not exist")
    for name in config.shifts:
        if not (folder / config.shifts_folder / f"{name}.yaml").is_file():
            raise ConfigError(f"{origin}: shift {name!r}: {folder / config.shifts_folder / name}.yaml does not exist")
    return config, folder


def merged(*configs: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """One randomization from parts that set different sections (a look and a dynamics shift).

    Raises ``ConfigError`` when two parts set the same section: neither may silently win."""
    result: dict[str, Any] = {}
    for part in configs:
        for key, value in (part or {}).items():
            if key in result:
                raise ConfigError(f"a look and a dynamics shift both set {key!r}; each section may come from one only")
            result[key] = value
    return result or None


def exact_camera(look: Mapping[str, Any]) -> dict[str, Any]:
    """``look`` seen through its nominal camera: every camera offset removed, the rest kept."""
    camera = look.get("camera")
    if not camera:
        return dict(look)
    return (
        {**look, "camera": {"nominal": camera["nominal"]}}
        if "nominal" in camera
        else {key: value for key, value in look.items() if key != "camera"}
    )


class Study:
    """Train what is missing, evaluate every domain, and report."""

    def __init__(self, config: StudyConfig, folder: Path, out: str | Path | None = None, log: Any = None) -> None:
        self.config, self.folder = config, folder
        self.out = Path(out or config.out)
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))

    def _yaml(self, relative: str) -> dict[str, Any]:
        """A randomization YAML of the study as a dict (its own relative paths kept as written)."""
        return read_yaml_mapping(self.folder / relative, "randomization")

    def _shift(self, name: str) -> dict[str, Any]:
        return self._yaml(f"{self.config.shifts_folder}/{name}.yaml")

    def policy_run(self) -> Path:
        """The state policy's run folder, trained by its Peng study when not finished yet."""
        from dr_sim import peng_study

        source = self.config.policy
        study, folder = peng_study.load_study(self.folder / source.study)
        if source.name not in study.policies:
            names = ", ".join(study.policies)
            raise ConfigError(f"policy.name {source.name!r} is not a policy of {source.study}: {names}")
        peng = peng_study.Study(study, folder, log=self.log)
        peng.train(source.name)
        return Path(peng.policy_config(source.name).out)

    def pose_run(self) -> Path:
        """The pose network's run folder, trained unless it holds a model of the same settings."""
        from dr_sim.heldout import DEFAULT_FOLDER, write_textures
        from dr_sim.policies import pose_training
        from dr_sim.policies.pose_net import load_checkpoint

        write_textures(DEFAULT_FOLDER)  # the held-out look's photographs (kept when written before)
        config = pose_training.load_train_config(self.folder / self.config.perception)
        run = Path(config.out)
        if (run / pose_training.METRICS_FILE).is_file():
            _, _, trained = load_checkpoint(run / pose_training.MODEL_FILE)
            wanted = config.model_dump(mode="json")
            if {k: v for k, v in trained.items() if k != "model"} == {k: v for k, v in wanted.items() if k != "model"}:
                self.log(f"pose network: trained already ({run})")
                return run
            raise ConfigError(f"{run} holds a pose network trained with other settings; delete it or change 'out'")
        self.log(f"pose network: training ({self.config.perception})")
        return pose_training.train(config, self.log)

    def domains(self) -> dict[str, dict[str, dict[str, Any] | None]]:
        """Pipeline -> domain -> randomization."""
        look, heldout = self._yaml(self.config.look), self._yaml(self.config.heldout_look)
        shifts = {name: self._shift(name) for name in self.config.shifts}
        return {
            STATE: {"nominal": None, **shifts},
            MODULAR: {
                TRAINING_LOOK: look,
                HELDOUT_LOOK: heldout,
                EXACT_CAMERA: exact_camera(heldout),
                **{f"{HELDOUT_LOOK} + {name}": merged(heldout, shift) for name, shift in shifts.items()},
            },
        }

    def run(self) -> dict[str, Any]:
        """The whole study; returns the summary that ``results.json`` holds."""
        from dr_sim.policies.modular import PoseEstimator

        policy_run, pose_run = self.policy_run(), self.pose_run()
        estimator = PoseEstimator(pose_run)
        results: dict[str, dict[str, Any]] = {}
        for pipeline, domains in self.domains().items():
            results[pipeline] = {}
            for name, randomization in domains.items():
                start = time.perf_counter()
                row = domain_row(
                    policy_run,
                    randomization,
                    self.config.episodes,
                    self.config.seed,
                    estimator if pipeline == MODULAR else None,
                )
                results[pipeline][name] = row
                error = f", pose error {row['perception_error_cm']:.2f} cm" if "perception_error_cm" in row else ""
                self.log(
                    f"{pipeline} / {name}: success {row['success_rate']:.2f}{error} "
                    f"({time.perf_counter() - start:.0f} s)"
                )
        results[STATE][SHIFTED] = pooled(results[STATE], self.config.shifts)
        results[MODULAR][VISUAL_AND_DYNAMICS] = pooled(
            results[MODULAR], [f"{HELDOUT_LOOK} + {name}" for name in self.config.shifts]
        )
        pose_metrics = json.loads((pose_run / "metrics.json").read_text())
        summary = {
            "episodes": self.config.episodes,
            "seed": self.config.seed,
            "policy": str(policy_run),
            "pose": {
                "run": str(pose_run),
                "val_cm": _mean_cm(pose_metrics.get("val")),
                "heldout_cm": _mean_cm(pose_metrics.get("eval", {}).get("heldout")),
                "train_seconds": pose_metrics.get("train_seconds"),
            },
            "results": results,
            "config": self.config.model_dump(mode="json"),
        }
        write_report(summary, self.out)
        return summary


def _mean_cm(score: Mapping[str, Any] | None) -> float | None:
    """The mean error (cm) over all images of a pose ``score`` result."""
    if not score:
        return None
    mean = score["subsets"]["all"]["mean_cm"]
    return float(mean) if mean is not None else None


def domain_row(
    policy_run: Path, randomization: dict[str, Any] | None, n: int, seed: int, estimator: Any = None
) -> dict[str, Any]:
    """``n`` deterministic episodes of the policy (episode ``i`` reset with ``seed + i``); with ``estimator``
    the object's position comes from the pose network. Success, its interval, return and pose error."""
    from dr_sim.policies.modular import make_modular_env
    from dr_sim.policies.rl_evaluation import load_policy, run_episodes
    from dr_sim.policies.rl_training import env_factory

    policy = load_policy(policy_run)
    config = policy.config
    if estimator is None:
        env = env_factory(config, randomization, monitor=False)()
    else:
        env = make_modular_env(
            config.env, config.env_kwargs, randomization, estimator, config.history, config.max_episode_steps
        )
    errors: list[float] = []

    def record(info: dict[str, Any]) -> None:
        if "perception_error" in info:
            errors.append(info["perception_error"])

    try:
        result = run_episodes(policy, env, range(n), seed, record)
    finally:
        env.close()
    row = result.as_dict()
    if errors:
        row["perception_error_cm"] = 100.0 * float(np.mean(errors))
        row["perception_error_p90_cm"] = 100.0 * float(np.percentile(errors, 90))
    return row


def pooled(rows: Mapping[str, Mapping[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """The named domains' episodes together: successes, rate and Wilson 95% interval, mean pose error."""
    from dr_sim import peng_study

    result = peng_study.pooled(rows, names)
    assert result is not None
    errors = [rows[name]["perception_error_cm"] for name in names if "perception_error_cm" in rows[name]]
    if errors:
        result["perception_error_cm"] = float(np.mean(errors))
    return result


def markdown(summary: Mapping[str, Any]) -> str:
    """The report: success [95% CI] and pose error per pipeline and domain."""
    from dr_sim.policies.rl_evaluation import success_cell

    pose = summary["pose"]
    lines = [
        "# The modular pipeline on PuckPush: pose network + dynamics-randomized state policy",
        "",
        f"Success rate [Wilson 95% interval] over {summary['episodes']} deterministic episodes per domain "
        f"(seeds {summary['seed']} + i); pose error: the mean distance (cm) between the network's estimate "
        f"and the puck's true position over every observation of the domain's episodes.",
        "",
        f"Pose network: {_cell(pose['val_cm'])} cm on held-back training-look images, "
        f"{_cell(pose['heldout_cm'])} cm on held-out-look images.",
        "",
        "| pipeline | domain | success [95% CI] | mean return | pose error (cm) |",
        "|---|---|---|---|---|",
    ]
    for pipeline, rows in summary["results"].items():
        for name, row in rows.items():
            ret = f"{row['mean_return']:.2f}" if "mean_return" in row else "-"
            lines.append(
                f"| {pipeline} | {name} | {success_cell(row)} | {ret} | {_cell(row.get('perception_error_cm'))} |"
            )
    return "\n".join(lines) + "\n"


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def write_report(summary: Mapping[str, Any], out: Path) -> None:
    """``results.json``, ``results.md`` and ``results.png`` in ``out``."""
    from dr_sim.policies.rl_evaluation import plot_success

    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "results.md").write_text(markdown(summary))
    plot_success(
        {pipeline: dict(rows) for pipeline, rows in summary["results"].items()},
        out / "results.png",
        "PuckPush: the state policy on the true state and through the pose network (Wilson 95% intervals)",
    )


# -- command line -------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The study's arguments."""
    from dr_sim.arguments import positive_int

    parser.add_argument("config", metavar="CONFIG", help="study config (launch/modular_pipeline.yaml)")
    parser.add_argument("--out", default=None, help="output folder (default: the config's 'out')")
    parser.add_argument("--episodes", type=positive_int, default=None, help="episodes per domain (pilot runs)")


def run(args: argparse.Namespace) -> int:
    """Run the study and print the markdown report."""
    data = read_yaml_mapping(args.config, "study config")
    if args.episodes is not None:
        data["episodes"] = args.episodes
    config, folder = load_study(data, Path(args.config).parent)
    print(markdown(Study(config, folder, args.out).run()), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m dr_sim.modular_study``: one line on stderr and exit code 2 on a bad config."""
    from dr_sim.arguments import module_main

    return module_main("dr_sim.modular_study", add_arguments, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
