"""Sim-to-sim adaptation (James et al. 2019's shape) on the perception study's held-out domain.

``python -m dr_sim.adapt_study launch/adapt_study.yaml [--out DIR] [--pairs N] [--epochs E] [--gap-n N]
[--no-docs]``

The perception study (``dr_sim.perception_study``, its config named by ``perception``) provides the
pose networks and the held-out set: its ``canonical`` point (trained on canonical images only), its
``full`` point (trained with full randomization) and ``heldout/data`` (with its variants). They are read
from its output folder, and built there with its own functions when missing (that costs what its
points cost). Then:

1. paired renders of the ``full`` point's generator settings and randomization (randomized and canonical
   look of each state, ``dr_sim.datasets.paired``), and RCAN trained on them (``dr_sim.adapt``, the
   ``translator`` keys of the config) into ``OUT/rcan``; a finished run with the same config is reused;
2. three pipelines scored on the held-out set (and each variant) with the perception study's metric
   (mean error on the table plane, cm): the canonical-only network, the full-randomization network,
   and RCAN's translation followed by the canonical-only network;
3. the gap meter's AUC (``dr_sim.gap``) between held-out images and canonical images, before and after
   translation, against two canonical references: the canonical point's training images (what the
   canonical network saw) and the canonical half of RCAN's pairs (the look RCAN aims at, with the
   training camera and distractors).

``OUT`` (default: the config's ``out``) receives ``results.md``, ``results.json``, ``examples.png``
(held-out inputs in the top row, their translations below), ``translated/`` (the translated held-out
images, PNG, for the gap meter) and ``gap/`` (the gap reports); ``examples.png`` is copied to the
config's ``docs`` folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from dr_sim.config.loader import read_source, read_yaml_mapping, validated
from dr_sim.config.params import StrictModel
from dr_sim.errors import ConfigError

CANONICAL, FULL = "canonical", "full"
PIPELINES = {
    "canonical": "canonical-only network",
    "full": "full-randomization network",
    "rcan+canonical": "RCAN translation, then the canonical-only network",
}
GOAL_TRAIN_S = 20 * 60.0
GOAL_STUDY_S = 45 * 60.0
EXAMPLES = 8


class GapSettings(StrictModel):
    """The gap meter's settings: images per side (at most), training passes, seed."""

    n: int = Field(default=500, ge=20)
    epochs: int = Field(default=15, ge=1)
    seed: int = Field(default=0, ge=0)


class AdaptStudyConfig(StrictModel):
    """The study (see ``launch/adapt_study.yaml`` for each key)."""

    out: str = "runs/adapt_study"
    perception: str = "launch/perception_ablation.yaml"
    perception_out: str | None = None
    pairs: int = Field(default=6000, gt=0)
    translator: dict[str, Any] = Field(default_factory=dict)
    gap: GapSettings = Field(default_factory=GapSettings)
    docs: str | None = "docs/adapt"


def load_adapt_study(source: str | Path | dict[str, Any]) -> AdaptStudyConfig:
    """A validated study config from a YAML path or a mapping; one ``ConfigError`` when bad."""
    data, origin, _ = read_source(source, "adapt study config")
    config = validated(AdaptStudyConfig, data, origin)
    taken = [key for key in ("data", "out", "method") if key in config.translator]
    if taken:
        raise ConfigError(f"{origin}: translator: the study sets {', '.join(map(repr, taken))} itself; remove it")
    return config


class AdaptStudy:
    """Runs the study of a config into its output folder (see the module docstring)."""

    def __init__(self, config: AdaptStudyConfig, out: str | Path | None = None) -> None:
        from dr_sim.perception_study import Study, load_study

        self.config = config
        self.out = Path(out if out is not None else config.out)
        self.perception = Study(load_study(config.perception), config.perception_out)
        self.start = time.perf_counter()

    def log(self, line: str) -> None:
        print(f"[{time.perf_counter() - self.start:7.0f} s] {line}", file=sys.stderr, flush=True)

    def points(self) -> dict[str, dict[str, Any]]:
        """The perception study's ``canonical`` and ``full`` points (their generator settings and scores)."""
        from dr_sim.perception_study import points

        arms = points(self.perception.config, [])
        missing = [name for name in (CANONICAL, FULL) if name not in arms]
        if missing:
            raise ConfigError(
                f"{self.config.perception}: the perception study has no arm {missing[0]!r}; the adaptation "
                f"study needs its arms {CANONICAL!r} and {FULL!r}"
            )
        return {name: arms[name] for name in (CANONICAL, FULL)}

    def translator_config(self, full: dict[str, Any]) -> dict[str, Any]:
        """RCAN's ``dr-sim adapt train`` config: pairs of the full point's generator settings."""
        generator = self.perception.spec(full)["generator"]
        return {
            **self.config.translator,
            "method": "rcan",
            "data": {"generator": generator, "n": self.config.pairs, "out": str(self.out / "pairs")},
            "out": str(self.out / "rcan"),
        }

    def train_rcan(self, full: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
        """(RCAN's run folder, its metrics): trained, or read when a run of the same config finished."""
        import yaml

        from dr_sim.adapt.config import load_adapt_config
        from dr_sim.adapt.run import CONFIG_FILE, METRICS_FILE, train

        config = load_adapt_config(self.translator_config(full), "adapt study: translator")
        run = Path(config.out)
        resolved = config.model_dump(mode="json")
        if (run / METRICS_FILE).is_file() and yaml.safe_load((run / CONFIG_FILE).read_text()) == resolved:
            self.log(f"RCAN: done already ({run})")
        else:
            self.log(f"RCAN: {self.config.pairs} pairs, {config.epochs} epochs into {run}")
            train(config, lambda line: self.log(f"RCAN: {line}"))
        return run, json.loads((run / METRICS_FILE).read_text())

    def run(self) -> dict[str, Any]:
        """Run the study and write its report; returns the summary."""
        import torch

        from dr_sim.adapt.run import load_generator
        from dr_sim.adapt.training import translate
        from dr_sim.policies.pose_net import load_checkpoint
        from dr_sim.policies.pose_training import PoseData, evaluate_model

        arms = self.points()
        heldout = self.perception.heldout()
        results = {name: self.perception.run_point(name, point, heldout) for name, point in arms.items()}
        run, metrics = self.train_rcan(arms[FULL])
        generator, _ = load_generator(run)
        canonical_net, scaler, _ = load_checkpoint(self.perception.out / "points" / CANONICAL / "run" / "model.pt")
        start = time.perf_counter()
        scores: dict[str, dict[str, Any]] = {"rcan+canonical": {}}
        translated: dict[str, Any] = {}
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for where, data in heldout.items():
                translated[where] = translate(generator, data.images)
                moved = PoseData(translated[where], data.xy, data.distractors, data.target_pixels)
                scores["rcan+canonical"][where] = evaluate_model(canonical_net, scaler, moved)
        finally:
            torch.set_num_threads(previous)
        for name in (CANONICAL, FULL):
            scores[name] = {"heldout": results[name]["heldout"], **results[name].get("variants", {})}
        evaluate_s = time.perf_counter() - start
        self.log(f"scored the three pipelines in {evaluate_s:.0f} s")
        gap = self.gap(translated["heldout"], Path(metrics["pairs"]) / "canonical")
        summary = {
            "settings": {
                "pairs": self.config.pairs,
                "translator": metrics_settings(run),
                "gap": self.config.gap.model_dump(),
                "heldout_images": {where: len(data) for where, data in heldout.items()},
                "perception_out": str(self.perception.out),
            },
            "scores": scores,
            "rcan": {key: value for key, value in metrics.items() if key != "history"},
            "rcan_history": metrics["history"],
            "gap": gap,
            "date": time.strftime("%Y-%m-%d"),
            "wall_s": time.perf_counter() - self.start,
        }
        summary["goals"] = goals(summary)
        self.write(summary, heldout["heldout"].images, translated["heldout"])
        return summary

    def gap(self, translated: Any, pair_canonical: Path) -> dict[str, Any]:
        """AUC of held-out against canonical images, before and after translation (``translated``, the
        held-out images through RCAN), per canonical reference."""
        from dr_sim.gap.cli import measure_gap
        from dr_sim.preview import encode_png, write_atomically

        folder = self.out / "translated"
        count = min(len(translated), self.config.gap.n)
        for i in range(count):
            write_atomically(folder / f"{i:05d}.png", encode_png(translated[i].permute(1, 2, 0).numpy()))
        references = {
            "canonical training images": self.perception.out / "points" / CANONICAL / "data",
            "canonical renders of RCAN's pairs": pair_canonical,
        }
        sources = {"before": self.perception.out / "heldout" / "data", "after": folder}
        settings = self.config.gap
        result: dict[str, Any] = {}
        for k, (reference, root) in enumerate(references.items()):
            result[reference] = {}
            for when, source in sources.items():
                out = self.out / "gap" / f"reference{k}_{when}"
                self.log(f"gap: held-out {when} translation against {reference}")
                measured = measure_gap(
                    source, root, out=out, n=settings.n, seed=settings.seed, epochs=settings.epochs, size=64
                )
                result[reference][when] = {key: measured[key] for key in ("auc", "auc_ci", "accuracy", "n_a")}
        return result

    def write(self, summary: dict[str, Any], heldout: Any, translated: Any) -> None:
        """``results.json``, ``results.md`` and ``examples.png`` in the out folder (and the picture in docs)."""
        from dr_sim.adapt.run import sheet
        from dr_sim.preview import encode_png, write_atomically

        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
        (self.out / "results.md").write_text(markdown(summary))
        shown = [rows[:EXAMPLES].permute(0, 2, 3, 1).numpy() for rows in (heldout, translated)]
        write_atomically(self.out / "examples.png", encode_png(sheet(shown)))
        if self.config.docs is not None:
            Path(self.config.docs).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.out / "examples.png", Path(self.config.docs) / "examples.png")
        self.log(f"wrote {self.out / 'results.md'}")


def metrics_settings(run: Path) -> dict[str, Any]:
    """RCAN's resolved config, without where its files are."""
    import yaml

    from dr_sim.adapt.run import CONFIG_FILE

    resolved = yaml.safe_load((run / CONFIG_FILE).read_text())
    return {key: value for key, value in resolved.items() if key not in ("data", "out")}


def _mean(scores: dict[str, Any], subset: str = "all") -> float | None:
    return scores["subsets"][subset]["mean_cm"]


def goals(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The issue's goals, each ``{"value", "goal", "met"}``."""
    scores = summary["scores"]
    rcan, full = _mean(scores["rcan+canonical"]["heldout"]), _mean(scores["full"]["heldout"])
    distances = {
        reference: [abs(result[when]["auc"] - 0.5) for when in ("before", "after")]
        for reference, result in summary["gap"].items()
    }
    result = {
        "RCAN + canonical error <= full randomization error (held-out, cm)": {
            "value": f"{rcan:.2f} vs {full:.2f}",
            "met": rcan <= full,
        },
        "RCAN training <= 20 min": {
            "value": f"{summary['rcan']['train_seconds'] / 60:.1f} min",
            "met": summary["rcan"]["train_seconds"] <= GOAL_TRAIN_S,
        },
        "whole study <= 45 min": {
            "value": f"{summary['wall_s'] / 60:.1f} min",
            "met": summary["wall_s"] <= GOAL_STUDY_S,
        },
    }
    for reference, (before, after) in distances.items():
        result[f"translation brings the AUC toward 0.5 ({reference})"] = {
            "value": f"distance from 0.5: {before:.3f} -> {after:.3f}",
            "met": after < before,
        }
    return result


def _cm(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def markdown(summary: dict[str, Any]) -> str:
    """The report: the three pipelines per held-out set and subset, the AUCs, the goals, the budget."""
    sets = list(summary["settings"]["heldout_images"])
    rcan = summary["rcan"]
    lines = [
        "# Sim-to-sim adaptation (James et al. 2019's shape) on the held-out perception domain",
        "",
        f"{summary['date']}. RCAN trained on {summary['settings']['pairs']} paired renders of the `full` arm "
        f"({rcan['train_pairs']} to train, {rcan['val_pairs']} to validate) in {rcan['train_seconds'] / 60:.1f} min "
        f"({rcan['images_per_s']:.0f} images/s, {rcan['threads']} thread), rendering {rcan['render_seconds']:.0f} s; "
        f"validation L1 {_cm(rcan['val_l1_levels'])} levels (untranslated "
        f"{_cm(rcan['val_l1_untranslated_levels'])}). Whole study {summary['wall_s'] / 60:.1f} min.",
        "",
        "Mean error on the table plane, cm (median in parentheses):",
        "",
        "| pipeline | "
        + " | ".join(f"{where}: all | {where}: object only | {where}: with distractors" for where in sets)
        + " |",
        "|---|" + "---|" * (3 * len(sets)),
    ]
    for name, label in PIPELINES.items():
        cells = []
        for where in sets:
            subsets = summary["scores"][name][where]["subsets"]
            cells += [
                f"{_cm(subsets[key]['mean_cm'])} ({_cm(subsets[key]['median_cm'])})"
                for key in ("all", "object_only", "with_distractors")
            ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Gap meter, held-out images against canonical images (ROC AUC, 95% interval; 0.5: indistinguishable):",
        "",
        "| canonical reference | before translation | after translation |",
        "|---|---|---|",
    ]
    for reference, result in summary["gap"].items():
        cells = [
            f"{result[when]['auc']:.3f} [{result[when]['auc_ci'][0]:.3f}, {result[when]['auc_ci'][1]:.3f}]"
            for when in ("before", "after")
        ]
        lines.append(f"| {reference} | {cells[0]} | {cells[1]} |")
    lines += ["", "| goal | value | met |", "|---|---|---|"]
    for name, goal in summary["goals"].items():
        lines.append(f"| {name} | {goal['value']} | {'yes' if goal['met'] else 'no'} |")
    lines += ["", "![held-out inputs (top) and their RCAN translations (bottom)](examples.png)", ""]
    return "\n".join(lines)


# -- command line -------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The study's arguments (the overrides are for smoke runs)."""
    from dr_sim.arguments import positive_int

    parser.add_argument("config", metavar="CONFIG", help="study config (launch/adapt_study.yaml)")
    parser.add_argument("--out", default=None, help="output folder (default: the config's 'out')")
    parser.add_argument("--pairs", type=positive_int, default=None, help="paired renders for RCAN (smoke runs)")
    parser.add_argument("--epochs", type=positive_int, default=None, help="RCAN's epochs (smoke runs)")
    parser.add_argument("--gap-n", type=positive_int, default=None, help="gap meter images per side (smoke runs)")
    parser.add_argument("--gap-epochs", type=positive_int, default=None, help="gap meter epochs (smoke runs)")
    parser.add_argument("--no-docs", action="store_true", help="do not copy the picture into the docs folder")


def run(args: argparse.Namespace) -> int:
    """Run the study and print the markdown report."""
    data = read_yaml_mapping(args.config, "adapt study config")
    if args.pairs is not None:
        data["pairs"] = args.pairs
    if args.epochs is not None:
        data["translator"] = {**(data.get("translator") or {}), "epochs": args.epochs}
    overrides = {key: value for key, value in (("n", args.gap_n), ("epochs", args.gap_epochs)) if value is not None}
    if overrides:
        data["gap"] = {**(data.get("gap") or {}), **overrides}
    if args.no_docs:
        data["docs"] = None
    summary = AdaptStudy(load_adapt_study(data), args.out).run()
    print(markdown(summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m dr_sim.adapt_study``: one line on stderr and exit code 2 on a bad config."""
    from dr_sim.arguments import module_main

    return module_main("dr_sim.adapt_study", add_arguments, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
