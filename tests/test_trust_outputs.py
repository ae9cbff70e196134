"""Results are trusted: never overwritten by another run, shards checked against their checksums, one
``dr-sim: error:`` line instead of a traceback, and memory estimated and limited before it is allocated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

# Imported here, not first inside a test: stable-baselines3 probes the old gym, which the dev extra installs
# (for third-party envs) and which prints a notice on stderr when first imported.
import dr_sim.policies.rl_training  # noqa: F401
from dr_sim.arguments import MAX_IMAGE_SIZE, guarded
from dr_sim.cli import main
from dr_sim.config import load_config
from dr_sim.config.schema import TextureConfig
from dr_sim.datasets.generate import generate
from dr_sim.datasets.shards import INDEX_FILE, content_hash, read_labels, shard_path
from dr_sim.errors import ConfigError, DrSimError
from dr_sim.memory import DEFAULT_LIMIT_MB, LIMIT_ENV, check_memory, pool_bytes, randomization_estimate
from dr_sim.randomizers import textures
from dr_sim.randomizers.textures import TexturePool

torch.set_num_threads(1)
PUCK = "dr_sim/PuckPush-v0"
LOCALIZE = "dr_sim/Localize-v0"
N = 8
SHARDS = 4
GENERATOR = {"env": LOCALIZE, "image_size": 32, "shard_size": 2, "seed": 3}
HUGE_POOL = {"appearance": [{"select": "*", "textures": {"pool_size": 100_000, "resolution": 1024}}]}


def error_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``dr-sim ARGV`` in this process: exit code 2 and exactly one stderr line ``dr-sim: error: ...``."""
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("dr-sim: error: "), err
    return lines[0]


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def a_file(tmp_path: Path) -> Path:
    """A regular file: a folder below it cannot be made, even by root (who ignores permission bits)."""
    path = tmp_path / "some_file.txt"
    path.write_text("not a folder")
    return path


# -- data sets: checksums and resume ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def intact(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A complete set of 8 images of 32 px in 4 shards, and its content hash."""
    root = tmp_path_factory.mktemp("intact") / "set"
    generate(GENERATOR, root, N, progress=False)
    return root, content_hash(root)


def test_the_index_holds_a_checksum_of_every_shard(intact: tuple[Path, str]) -> None:
    import hashlib

    root, _ = intact
    lines = [json.loads(line) for line in (root / INDEX_FILE).read_text().splitlines()]
    assert [line["shard"] for line in lines] == list(range(SHARDS))
    for line in lines:
        data = shard_path(root, line["shard"]).read_bytes()
        assert line["bytes"] == len(data)
        assert line["sha256"] == hashlib.sha256(data).hexdigest()
    assert content_hash(str(root)) == content_hash(root)  # a str path works too


def test_a_truncated_shard_is_rendered_again_on_resume(
    intact: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference, expected = intact
    config = write_yaml(tmp_path / "generator.yaml", GENERATOR)
    root = tmp_path / "set"
    assert main(["generate", str(config), "--out", str(root), "-n", str(N), "--quiet"]) == 0
    assert content_hash(root) == expected
    broken = shard_path(root, 1)
    data = broken.read_bytes()
    broken.write_bytes(data[: len(data) // 2])  # as a copy cut short leaves it
    with pytest.raises(DrSimError, match="not a valid shard file"):
        read_labels(broken)  # what made the manifest step fail with BadZipFile
    untouched = shard_path(root, 2).stat().st_mtime_ns
    capsys.readouterr()
    assert main(["generate", str(config), "--out", str(root), "-n", str(N)]) == 0
    captured = capsys.readouterr()
    assert "1 shard file(s) failed their checksum (shard-000001.npz)" in captured.err
    assert "1 shards rendered, 3 were complete already, 1 failed their checksum" in captured.out
    assert content_hash(root) == expected
    assert shard_path(root, 2).stat().st_mtime_ns == untouched  # the sound shards were kept
    assert (root / "manifest.jsonl").read_text() == (reference / "manifest.jsonl").read_text()


def test_altered_shards_of_a_set_without_index_are_found_by_reading_them(
    intact: tuple[Path, str], tmp_path: Path
) -> None:
    _, expected = intact
    root = tmp_path / "set"
    generate(GENERATOR, root, N, progress=False)
    (root / INDEX_FILE).unlink()  # a set written before the index, or killed between a shard and its line
    truncated = shard_path(root, 0)
    truncated.write_bytes(truncated.read_bytes()[:-100])
    flipped = shard_path(root, 3)
    data = bytearray(flipped.read_bytes())
    data[len(data) // 3] ^= 0xFF  # inside an array: its zip CRC fails
    flipped.write_bytes(bytes(data))
    summary = generate(GENERATOR, root, N, progress=False)
    assert summary["repaired"] == 2
    assert summary["rendered"] == 2
    assert content_hash(root) == expected
    assert len((root / INDEX_FILE).read_text().splitlines()) == SHARDS  # the sound shards got their lines too
    assert generate(GENERATOR, root, N, progress=False)["rendered"] == 0


def test_an_altered_shard_with_a_checksum_is_rendered_again(intact: tuple[Path, str], tmp_path: Path) -> None:
    from dr_sim.datasets.shards import read_shard, write_shard

    _, expected = intact
    root = tmp_path / "set"
    generate(GENERATOR, root, N, progress=False)
    shard = read_shard(shard_path(root, 2))
    shard.rgb[0, 1, 1, 0] ^= 1
    write_shard(shard_path(root, 2), shard)  # a readable file, but not the one written
    assert content_hash(root) != expected
    assert generate(GENERATOR, root, N, progress=False)["repaired"] == 1
    assert content_hash(root) == expected


# -- one line instead of a traceback -----------------------------------------------------------------
def test_a_larger_n_extends_a_set_to_what_a_fresh_one_would_be(intact: tuple[Path, str], tmp_path: Path) -> None:
    """5 images (shards of 2, the last one short), then -n 8: the same set as 8 images at once."""
    root = tmp_path / "grown"
    generate({**GENERATOR}, root, 5, progress=False, export=("coco",))
    first_two = [shard_path(root, shard).stat().st_mtime_ns for shard in (0, 1)]
    grown = generate({**GENERATOR}, root, N, progress=False)
    assert grown["rendered"] == 2  # the short shard 2 again, whole, and the new shard 3
    assert content_hash(root) == intact[1]
    assert [shard_path(root, shard).stat().st_mtime_ns for shard in (0, 1)] == first_two  # kept as they were
    assert not (root / "coco").exists()  # the export of 5 images no longer covers the set
    with pytest.raises(ConfigError, match="different settings"):
        generate({**GENERATOR}, root, 6, progress=False)  # a smaller count is never cut


def test_an_out_below_a_file_is_one_line_for_generate_preview_and_train(
    tiny_rl: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = a_file(tmp_path)
    config = write_yaml(tmp_path / "generator.yaml", GENERATOR)
    line = error_line(["generate", str(config), "--out", str(blocker / "sub"), "-n", "2"], capsys)
    assert "some_file.txt" in line
    line = error_line(["preview", "none", "-n", "1", "--image-size", "16", "--out", str(blocker / "sub/a.png")], capsys)
    assert "some_file.txt" in line
    rl = write_yaml(tmp_path / "rl.yaml", tiny_rl(tmp_path / "unused"))
    line = error_line(["train", str(rl), "--out", str(blocker / "sub")], capsys)
    assert "some_file.txt" in line
    assert blocker.read_text() == "not a folder"


def test_a_permission_error_on_writing_is_one_line_naming_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a read-only --out gives a user who is not root (root writes anyway): ``PermissionError``."""
    import dr_sim.datasets.shards as shards

    def refuse(path: Path, data: bytes) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(shards, "write_atomically", refuse)
    config = write_yaml(tmp_path / "generator.yaml", GENERATOR)
    line = error_line(["generate", str(config), "--out", str(tmp_path / "locked"), "-n", "2"], capsys)
    assert "Permission denied" in line
    assert str(tmp_path / "locked" / "dataset.json") in line

    def command() -> int:
        raise OSError(30, "Read-only file system", "/mnt/ro/out")

    assert guarded(command, "dr-sim") == 2
    assert capsys.readouterr().err.strip() == (
        "dr-sim: error: Read-only file system: '/mnt/ro/out' (check the path and its permissions)"
    )


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores permission bits")
def test_a_read_only_out_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        config = write_yaml(tmp_path / "generator.yaml", GENERATOR)
        line = error_line(["generate", str(config), "--out", str(locked / "set"), "-n", "2"], capsys)
        assert "locked" in line
    finally:
        locked.chmod(0o755)


def test_a_negative_seed_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = error_line(["preview", "none", "-n", "1", "--seed", "-5", "--out", str(tmp_path / "a.png")], capsys)
    assert "--seed" in line
    assert "non-negative" in line
    assert not (tmp_path / "a.png").exists()


def test_a_huge_image_is_refused_before_pybullet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = error_line(
        ["preview", "none", "-n", "1", "--image-size", "100000", "--out", str(tmp_path / "a.png")], capsys
    )
    assert f"at most {MAX_IMAGE_SIZE} px" in line
    config = write_yaml(tmp_path / "generator.yaml", {**GENERATOR, "image_size": 100_000})
    line = error_line(["generate", str(config), "--out", str(tmp_path / "set"), "-n", "1"], capsys)
    assert "image_size" in line
    assert not (tmp_path / "set").exists()


def test_a_huge_image_in_a_real_process_is_one_line_not_an_abort(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dr_sim.cli", "preview", "none", "--image-size", "100000", "--out", "a.png"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dr-sim: error: ")
    assert "4096" in lines[0]


# -- the memory guard ---------------------------------------------------------------------------------
def test_an_oversized_pool_is_refused_before_any_allocation(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a texture was generated or loaded")

    monkeypatch.setattr(textures, "procedural_texture", never)
    monkeypatch.setattr(textures.p, "loadTexture", never)
    monkeypatch.delenv(LIMIT_ENV, raising=False)
    config = TextureConfig(pool_size=100_000, resolution=1024)  # passes validation
    with pytest.raises(ConfigError) as error:
        TexturePool(-1, config)  # no simulation at all: it must stop before touching one
    message = str(error.value)
    assert "100001 textures of 1024 px" in message
    assert "MiB" in message
    assert f"limit of {DEFAULT_LIMIT_MB:,} MiB" in message
    assert f"{LIMIT_ENV}=" in message


def test_the_limit_is_raised_by_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    estimate = randomization_estimate(load_config(HUGE_POOL))
    assert estimate.total > 1e12  # 100,001 textures of 1024 px: more than a terabyte
    monkeypatch.setenv(LIMIT_ENV, str(estimate.total // 2**20 + 1))
    assert check_memory(estimate, "this") is estimate
    monkeypatch.setenv(LIMIT_ENV, "lots")
    with pytest.raises(ConfigError, match=f"{LIMIT_ENV} must be a positive number of MiB, got 'lots'"):
        check_memory(estimate, "this")


def test_the_texture_constant_bounds_a_measured_pool() -> None:
    import pybullet as p

    config = TextureConfig(pool_size=200, resolution=64, families=["flat", "gradient", "checker", "stripes", "noise"])
    client = p.connect(p.DIRECT)
    try:
        measured = TexturePool(client, config).memory_bytes
    finally:
        p.disconnect(client)
    assert measured <= pool_bytes(config)
    # The pool the issue describes: 8,000 textures of 128 px took 1.4 GB; the estimate says so before building it.
    big = TextureConfig(pool_size=8000, resolution=128)
    assert 1.2e9 < pool_bytes(big) < 2 * 2**30


def test_a_large_pool_is_announced_before_it_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    import pybullet as p

    monkeypatch.setattr(textures, "ANNOUNCE_BYTES", 0)  # as if these 2 small textures were a large pool
    client = p.connect(p.DIRECT)
    try:
        with pytest.warns(RuntimeWarning, match="building a texture pool of 3 textures of 16 px: about"):
            TexturePool(client, TextureConfig(pool_size=2, resolution=16))
    finally:
        p.disconnect(client)


def test_oversized_configs_are_one_line_before_any_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dr_sim.datasets.generate as generate_module
    import dr_sim.preview as preview_module

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an env was built")

    monkeypatch.setattr(preview_module, "make_env", never)
    monkeypatch.setattr(generate_module, "ShardRenderer", never)
    monkeypatch.delenv(LIMIT_ENV, raising=False)
    randomization = write_yaml(tmp_path / "huge.yaml", HUGE_POOL)
    line = error_line(["preview", str(randomization), "-n", "1", "--out", str(tmp_path / "a.png")], capsys)
    assert "texture pool 100001 x 1024 px" in line
    assert LIMIT_ENV in line
    config = write_yaml(tmp_path / "generator.yaml", {**GENERATOR, "randomization": HUGE_POOL})
    line = error_line(["generate", str(config), "--out", str(tmp_path / "set"), "-n", "4"], capsys)
    assert "each worker process of generate" in line
    assert LIMIT_ENV in line
    # The images of a shard count too: 8 images of 4096 px and their render buffers, nearly 4 GiB.
    big = {**GENERATOR, "randomization": "none", "image_size": 4096, "shard_size": 8}
    line = error_line(
        ["generate", str(write_yaml(tmp_path / "big.yaml", big)), "--out", str(tmp_path / "set"), "-n", "4"], capsys
    )
    assert "a shard of 8 images" in line
    assert "render buffers 4096 x 4096 px" in line
    assert not (tmp_path / "set").exists()
    assert not (tmp_path / "a.png").exists()


def test_generate_and_preview_report_the_estimate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_yaml(tmp_path / "generator.yaml", GENERATOR)
    assert main(["generate", str(config), "--out", str(tmp_path / "set"), "-n", "2"]) == 0
    captured = capsys.readouterr()
    assert "generate: estimated memory per worker process" in captured.err
    assert "estimated memory per worker process:" in captured.out
    assert "texture pool 101 x 64 px" in captured.out
    assert main(["preview", "visual", "-n", "2", "--image-size", "16", "--out", str(tmp_path / "a.png")]) == 0
    assert "estimated memory: " in capsys.readouterr().out


def test_rl_training_estimates_every_env_of_this_process(tiny_rl: Any) -> None:
    from dr_sim.policies.rl_config import load_rl_config
    from dr_sim.policies.rl_training import estimate_memory

    one = randomization_estimate(load_config("visual")).total
    dummy = load_rl_config(tiny_rl(Path("unused"), randomization="visual", n_envs=3))
    assert estimate_memory(dummy).total == 3 * one
    subproc = dummy.model_copy(update={"vec_env": "subproc"})
    assert estimate_memory(subproc).total == one
    with_eval = dummy.model_copy(update={"eval_freq": 100})
    assert estimate_memory(with_eval).total == 4 * one


# -- RL runs: never overwritten ----------------------------------------------------------------------------


def snapshot(run: Path) -> dict[str, bytes]:
    """Every file of a run folder (relative path -> bytes)."""
    return {str(path.relative_to(run)): path.read_bytes() for path in sorted(run.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def rl_run(tiny_rl: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dr_sim.policies.rl_training import train

    return train(tiny_rl(tmp_path_factory.mktemp("rl") / "run"))


def test_training_again_with_the_same_settings_is_a_no_op(tiny_rl: Any, rl_run: Path) -> None:
    from dr_sim.policies.rl_training import train

    before = snapshot(rl_run)
    lines: list[str] = []
    assert train(tiny_rl(rl_run), lines.append) == rl_run
    assert any("nothing to train" in line for line in lines)
    assert snapshot(rl_run) == before


def test_training_other_settings_into_a_run_is_refused_and_changes_nothing(
    tiny_rl: Any, rl_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dr_sim.policies.rl_training import train

    before = snapshot(rl_run)
    ppo = write_yaml(tmp_path / "ppo.yaml", tiny_rl(rl_run, algo="ppo", hyperparams={"n_steps": 64}))
    line = error_line(["train", str(ppo), "--out", str(rl_run)], capsys)
    assert str(rl_run) in line
    assert "algo: 'sac' there, 'ppo' asked" in line
    assert "another --out" in line
    longer = write_yaml(tmp_path / "longer.yaml", tiny_rl(rl_run, total_timesteps=400))
    line = error_line(["train", str(longer)], capsys)
    assert "total_timesteps: 300 there, 400 asked" in line
    assert "resume: true" in line
    with pytest.raises(ConfigError, match="seed: 0 there, 1 asked"):
        train(tiny_rl(rl_run, seed=1, resume=True))
    assert snapshot(rl_run) == before


def test_an_unfinished_run_needs_resume(tiny_rl: Any, rl_run: Path, tmp_path: Path) -> None:
    import shutil

    from dr_sim.policies.rl_training import TRAINING_FILE, train

    copy = tmp_path / "unfinished"
    shutil.copytree(rl_run, copy)
    (copy / TRAINING_FILE).unlink()  # as a run killed before its end leaves it: checkpoints, no summary
    before = snapshot(copy)
    with pytest.raises(ConfigError, match=r"unfinished run of these settings .*resume: true"):
        train(tiny_rl(copy))
    assert snapshot(copy) == before


def test_a_pose_folder_is_refused_for_rl_and_an_rl_folder_for_pose(tiny_rl: Any, rl_run: Path, tmp_path: Path) -> None:
    from dr_sim.policies.pose_training import train as train_pose
    from dr_sim.policies.rl_training import train

    pose = tmp_path / "pose"
    pose.mkdir()
    (pose / "model.pt").write_bytes(b"a model")
    with pytest.raises(ConfigError, match="holds a pose run"):
        train(tiny_rl(pose))
    with pytest.raises(ConfigError, match="holds an RL run"):
        train_pose(pose_config(tmp_path / "data", rl_run))


# -- evaluations: kept side by side ---------------------------------------------------------------------
def test_evaluations_accumulate_and_an_identical_one_replaces_only_itself(
    rl_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def evaluate(*args: str) -> list[dict[str, Any]]:
        assert main(["evaluate", str(rl_run), *args]) == 0
        capsys.readouterr()
        return json.loads((rl_run / "evaluation.json").read_text())["entries"]

    first = evaluate("--domains", "nominal", "-n", "2")
    assert [(entry["domain"], entry["episodes"]) for entry in first] == [("nominal", 2)]
    entries = evaluate("--domains", "heavy", "-n", "3")
    assert [(entry["domain"], entry["episodes"]) for entry in entries] == [("nominal", 2), ("heavy", 3)]
    assert entries[0] == first[0]  # the earlier domain's result is kept as it was
    entries = evaluate("--domains", "nominal", "-n", "3")
    assert [(entry["domain"], entry["episodes"]) for entry in entries] == [("nominal", 2), ("heavy", 3), ("nominal", 3)]
    again = evaluate("--domains", "nominal", "-n", "2")
    assert again == entries  # an identical evaluation replaced its own entry, with the same numbers
    assert {entry["seed"] for entry in again} == {10_000}
    assert len({entry["model"] for entry in again}) == 1
    table = (rl_run / "evaluation.md").read_text()
    assert table.count("| nominal |") == 2
    assert table.count("| heavy |") == 1
    assert (rl_run / "evaluation.png").stat().st_size > 1000


def test_an_evaluation_of_the_earlier_format_is_kept(tmp_path: Path) -> None:
    from dr_sim.policies.rl_evaluation import DomainResult, read_evaluations, write_evaluation

    row = DomainResult(1, (-1.0, -2.0)).as_dict()
    old = {"run": str(tmp_path), "episodes": 2, "seed": 10_000, "domains": {"heavy": row}}
    (tmp_path / "evaluation.json").write_text(json.dumps(old))
    new = {"run": str(tmp_path), "episodes": 2, "seed": 10_000, "model": "abc", "domains": {"nominal": row}}
    entries = write_evaluation(new, tmp_path)
    assert [(entry["domain"], entry["model"]) for entry in entries] == [("heavy", None), ("nominal", "abc")]
    assert read_evaluations(tmp_path) == entries
    assert "| heavy |" in (tmp_path / "evaluation.md").read_text()


# -- pose runs: never overwritten ---------------------------------------------------------------------------
def pose_config(data: Path, out: Path, **overrides: Any) -> dict[str, Any]:
    config = {
        "kind": "pose",
        "data": {"path": str(data)},
        "out": str(out),
        "epochs": 1,
        "batch_size": 4,
        "threads": 1,
        "val_fraction": 0.25,
        "model": {"channels": [8], "keypoints": 4, "hidden": 8},
    }
    return {**config, **overrides}


def test_a_pose_run_is_never_overwritten(
    intact: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dr_sim.policies.pose_training import train

    data, _ = intact
    run = train(pose_config(data, tmp_path / "run"))
    before = snapshot(run)
    lines: list[str] = []
    assert train(pose_config(data, run), lines.append) == run  # the same settings: nothing to do
    assert any("nothing to train" in line for line in lines)
    assert snapshot(run) == before
    other = write_yaml(tmp_path / "other.yaml", pose_config(data, run, lr=0.01))
    line = error_line(["train", str(other)], capsys)
    assert str(run) in line
    assert "lr: 0.002 there, 0.01 asked" in line
    assert "another --out" in line
    sized = pose_config(data, run, model={"channels": [8], "keypoints": 4, "hidden": 8, "image_size": 64})
    with pytest.raises(ConfigError, match=r"model\.image_size: 32 there, 64 asked"):
        train(sized)
    assert snapshot(run) == before
    assert np.isfinite(json.loads((run / "metrics.json").read_text())["history"][0]["loss"])
