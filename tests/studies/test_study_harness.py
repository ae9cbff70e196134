"""The study harness: the run cache, --set, the command line, the report files, resuming."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from dr_sim.config.params import StrictModel
from dr_sim.errors import ConfigError
from dr_sim.run_cache import RunCache, settings_hash
from studies.harness import Goal, Point, Report, Study, Table, apply_setting, study_main


def test_the_cache_reads_back_equal_settings_and_recomputes_changed_ones(tmp_path: Path) -> None:
    cache = RunCache(tmp_path)
    calls: list[Path] = []

    def compute(folder: Path) -> dict[str, Any]:
        calls.append(folder)
        (folder / "model.bin").write_bytes(b"weights")
        return {"score": len(calls)}

    first, fresh = cache.run("point", {"epochs": 2, "lr": 0.1}, compute)
    assert fresh
    assert first == {"score": 1}
    again, fresh = cache.run("point", {"lr": 0.1, "epochs": 2}, compute)  # key order does not matter
    assert (again, fresh) == (first, False)
    changed, fresh = cache.run("point", {"epochs": 3, "lr": 0.1}, compute)  # a changed setting is not "done"
    assert fresh
    assert changed == {"score": 2}
    assert calls[0] != calls[1]  # beside the first, which is kept
    assert (calls[0] / "model.bin").is_file()
    assert json.loads((calls[0] / "settings.json").read_text()) == {"epochs": 2, "lr": 0.1}
    assert settings_hash({"a": [1, 2]}) != settings_hash({"a": [2, 1]})


def test_an_interrupted_computation_is_not_taken_for_finished(tmp_path: Path) -> None:
    cache = RunCache(tmp_path)

    def crash(folder: Path) -> dict[str, Any]:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.run("point", {"n": 1}, crash)
    assert cache.cached("point", {"n": 1}) is None
    result, fresh = cache.run("point", {"n": 1}, lambda folder: {"done": True})
    assert fresh
    assert result == {"done": True}


def test_set_takes_dotted_keys_and_yaml_values() -> None:
    data: dict[str, Any] = {"training": {"epochs": 14}, "arms": None}
    apply_setting(data, "training.epochs=2")
    apply_setting(data, "sizes=[100, 200]")
    apply_setting(data, "heldout.variants.occluded.n=5")
    apply_setting(data, "arms.full={}")
    assert data == {
        "training": {"epochs": 2},
        "sizes": [100, 200],
        "heldout": {"variants": {"occluded": {"n": 5}}},
        "arms": {"full": {}},
    }
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_setting(data, "training.epochs")
    with pytest.raises(ConfigError, match="'sizes' holds a list, not a mapping"):
        apply_setting(data, "sizes.first=1")


class CountingConfig(StrictModel):
    values: list[int] = Field(min_length=1)
    scale: float = 1.0


class CountingStudy(Study):
    """A study whose points multiply a value: computing one leaves a mark, so resuming can be seen."""

    name = "counting"
    config_model = CountingConfig

    def points(self) -> dict[str, Point]:
        return {f"v{v}": Point(f"v{v}", {"value": v, "scale": self.config.scale}, "value") for v in self.config.values}

    def compute(self, point: Point, folder: Path) -> dict[str, Any]:
        marks = self.out / "computed.txt"
        marks.parent.mkdir(parents=True, exist_ok=True)
        with marks.open("a") as file:
            file.write(point.name + "\n")
        return {"product": point.settings["value"] * point.settings["scale"]}

    def report(self, results: dict[str, dict[str, Any]]) -> Report:
        total = sum(result["product"] for result in results.values())
        table = Table("Products:", ["point", "product"], [[name, f"{r['product']:g}"] for name, r in results.items()])
        return Report(
            "Counting", ["A toy study."], [table], [Goal("total >= 10", total, total >= 10)], {"total": total}
        )


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_a_study_runs_resumes_and_reports_from_one_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, out = _config(tmp_path, "values: [1, 2, 3]\nscale: 2\n"), tmp_path / "out"
    assert study_main(CountingStudy, None, [str(config), "--out", str(out), "--only", "v1", "v2"]) == 0
    assert (out / "computed.txt").read_text().split() == ["v1", "v2"]
    assert study_main(CountingStudy, None, [str(config), "--out", str(out)]) == 0
    assert (out / "computed.txt").read_text().split() == ["v1", "v2", "v3"]  # only the missing point ran
    results = json.loads((out / "results.json").read_text())
    assert results["total"] == 12
    assert results["goals"] == [{"goal": "total >= 10", "value": 12, "met": True}]
    markdown = (out / "results.md").read_text()
    assert markdown.startswith("# Counting\n\nRun ")
    assert "core" in markdown.split("\n")[2]  # the machine
    assert f"command: `python -m studies.counting {config} --out {out}`" in markdown
    assert "| v3 | 6 |" in markdown
    assert "- total >= 10: 12.00 (**met**)" in markdown
    assert study_main(CountingStudy, None, [str(config), "--out", str(out), "--set", "scale=3"]) == 0
    assert (out / "computed.txt").read_text().split()[-3:] == ["v1", "v2", "v3"]  # a changed setting reruns all
    capsys.readouterr()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--only", "v9"], "--only 'v9' is not a point of this study; points: v1"),
        (["--set", "scale"], "--set expects KEY=VALUE"),
        (["--set", "scael=2"], "unknown key 'scael'. Did you mean 'scale'?"),
        (["--set", "values=[]"], "values"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    config = _config(tmp_path, "values: [1]\n")
    assert study_main(CountingStudy, None, [str(config), "--out", str(tmp_path / "out"), *arguments]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert error.startswith("dr-sim: error:")
    assert message in error
    assert not (tmp_path / "out" / "results.md").exists()


def test_a_missing_config_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert study_main(CountingStudy, None, [str(tmp_path / "nope.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_any_point_name_is_one_folder(tmp_path: Path) -> None:
    cache = RunCache(tmp_path)
    result, _ = cache.run("modular (pose network) / held-out look + heavy", {"n": 1}, lambda folder: {"ok": True})
    assert result == {"ok": True}
    folder = cache.folder("modular (pose network) / held-out look + heavy", {"n": 1})
    assert folder.parent == tmp_path
    assert folder.name.startswith("modular_pose_network_held-out_look_+_heavy-")
    assert (folder / "result.json").is_file()
