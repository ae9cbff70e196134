"""dr-sim gap: calibrated on real generator images (one config twice: AUC about 0.5; canonical against
fully randomized: AUC about 1), exact statistics, every source kind, one clear message for bad input."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from dr_sim.datasets.generate import generate
from dr_sim.gap.classifier import bootstrap_counts, roc_auc, weighted_auc
from dr_sim.gap.cli import main, measure_gap
from dr_sim.gap.features import polynomial_kernel, weighted_mmd2
from dr_sim.gap.images import load_image_set
from dr_sim.gap.stats import image_stats, wasserstein

N = 200  # images per side: 100 train, 100 held out
SIZE = 32  # px
EPOCHS = 15
SEED = 0


def generator_config(randomization: str, seed: int) -> dict[str, Any]:
    return {"image_size": SIZE, "randomization": randomization, "seed": seed, "visibility": "none"}


@pytest.fixture(scope="session")
def data_sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Localize images: canonical (no randomization), fully randomized, and a second, disjoint sample
    of the fully randomized config (another generator seed)."""
    root = tmp_path_factory.mktemp("gap_sets")
    settings = {"canonical": ("none", 1), "full": ("full", 1), "full_again": ("full", 2)}
    for name, (randomization, seed) in settings.items():
        generate(generator_config(randomization, seed), root / name, N, progress=False)
    return {name: root / name for name in settings}


def run_json(argv: list[str]) -> dict[str, Any]:
    """``python -m dr_sim.gap.cli ARGV --json``: its exit code must be 0 and its stdout one JSON object."""
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main([*argv, "--json"]) == 0
    lines = stdout.getvalue().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


@pytest.fixture(scope="session")
def far(data_sets: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The gap between canonical and fully randomized images, through the command line."""
    out = tmp_path_factory.mktemp("gap_far")
    args = ["-n", str(N), "--size", str(SIZE), "--epochs", str(EPOCHS), "--seed", str(SEED), "--out", str(out)]
    return run_json([str(data_sets["canonical"]), str(data_sets["full"]), *args])


@pytest.fixture(scope="session")
def same(data_sets: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The gap between two disjoint samples of one generator config."""
    out = tmp_path_factory.mktemp("gap_same")
    return measure_gap(data_sets["full"], data_sets["full_again"], out=out, n=N, size=SIZE, seed=SEED, epochs=EPOCHS)


# -- calibration ------------------------------------------------------------------------------------
def test_two_samples_of_one_config_are_indistinguishable(same: dict[str, Any]) -> None:
    low, high = same["auc_ci"]
    assert low <= 0.5 <= high
    assert abs(same["auc"] - 0.5) < 0.1
    assert same["accuracy_ci"][0] <= 0.5 <= same["accuracy_ci"][1]
    low, high = same["feature_distance_ci"]
    assert low <= 0.0 <= high  # KID is unbiased: about 0 for one distribution


def test_canonical_and_randomized_images_are_told_apart(far: dict[str, Any], same: dict[str, Any]) -> None:
    assert far["auc"] > 0.95
    assert far["auc_ci"][0] > 0.9
    assert far["accuracy"] > 0.85
    assert far["feature_distance_ci"][0] > same["feature_distance_ci"][1]
    assert far["feature_distance"] > 10 * max(abs(same["feature_distance"]), 0.01)
    difference = far["stats"]["difference"]
    assert difference["brightness"] < -30  # the canonical table is light; randomized textures are darker on average
    assert min(difference["histogram_wasserstein"].values()) > 30


@pytest.mark.slow
def test_two_samples_of_one_config_over_seeds(data_sets: dict[str, Path], tmp_path: Path) -> None:
    aucs, inside = [], 0
    for seed in range(5):
        result = measure_gap(
            data_sets["full"],
            data_sets["full_again"],
            out=tmp_path / str(seed),
            n=N,
            size=SIZE,
            seed=seed,
            epochs=EPOCHS,
        )
        aucs.append(result["auc"])
        inside += result["auc_ci"][0] <= 0.5 <= result["auc_ci"][1]
    assert inside >= 4  # 95% intervals: one miss in five is possible, two are unlikely (p < 0.03)
    assert abs(np.mean(aucs) - 0.5) < 0.05


# -- output -------------------------------------------------------------------------------------------
def test_json_output_has_the_figures_with_their_types(far: dict[str, Any]) -> None:
    for key in ("auc", "accuracy", "feature_distance"):
        assert isinstance(far[key], float)
        low, high = far[f"{key}_ci"]
        assert isinstance(far[f"{key}_ci"], list)
        assert isinstance(low, float)
        assert isinstance(high, float)
        assert low <= far[key] <= high
    assert far["n_a"] == far["n_b"] == N
    assert far["n_test_a"] == far["n_test_b"] == N // 2
    assert isinstance(far["n_a"], int)
    assert far["a"]["kind"] == far["b"]["kind"] == "dataset"
    for side in ("a", "b"):
        assert set(far["stats"][side]) >= {"brightness", "contrast", "sharpness", "channel_mean"}
    assert set(far["stats"]["difference"]) >= {"brightness", "contrast", "sharpness", "histogram_wasserstein"}


def test_report_files_are_written(far: dict[str, Any]) -> None:
    files = far["files"]
    assert json.loads(Path(files["json"]).read_text()) == far
    text = Path(files["report"]).read_text()
    assert "ROC AUC" in text
    assert "histograms.png" in text
    assert "telling.png" in text
    histograms = cv2.imread(files["histograms"])
    assert histograms is not None
    assert histograms.shape[0] > 100
    telling = cv2.imread(files["telling"])
    assert telling is not None
    tile = 64 + 2  # 32 px images doubled, and the gap
    assert telling.shape == (2 * tile + 2, 8 * tile + 2, 3)


# -- sources ----------------------------------------------------------------------------------------
def test_an_image_folder_is_centre_cropped_and_resized(tmp_path: Path) -> None:
    wide = np.zeros((40, 60, 3), np.uint8)
    wide[:, 10:50] = (200, 100, 50)  # the centre square; the side strips are cropped away
    (tmp_path / "sub").mkdir()
    assert cv2.imwrite(str(tmp_path / "b.png"), cv2.cvtColor(wide, cv2.COLOR_RGB2BGR))
    assert cv2.imwrite(str(tmp_path / "sub" / "a.JPG"), np.full((64, 48, 3), 128, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    loaded = load_image_set(tmp_path, 16, 10, tmp_path / "cache")
    assert loaded.kind == "folder"
    assert loaded.names == ["b.png", "sub/a.JPG"]
    assert loaded.images.shape == (2, 16, 16, 3)
    assert loaded.images.dtype == np.uint8
    np.testing.assert_array_equal(loaded.images[0], np.broadcast_to([200, 100, 50], (16, 16, 3)))
    assert len(load_image_set(tmp_path, 16, 1, tmp_path / "cache")) == 1  # at most n from a folder


def test_a_folder_against_a_data_set_uses_as_many_images_of_each(data_sets: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    canonical = load_image_set(data_sets["canonical"], SIZE, 30, tmp_path)
    for k, image in enumerate(canonical.images):
        assert cv2.imwrite(str(folder / f"{k:03d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    result = measure_gap(folder, data_sets["full"], out=tmp_path / "report", n=N, size=SIZE, seed=SEED, epochs=2)
    assert result["a"]["kind"] == "folder"
    assert result["n_a"] == result["n_b"] == 30
    assert result["b"]["available"] == N


def test_a_config_is_generated_into_the_cache_once(tmp_path: Path) -> None:
    paths = []
    for randomization in ("none", "visual"):
        path = tmp_path / f"{randomization}.yaml"
        path.write_text(json.dumps(generator_config(randomization, 3)))  # JSON is YAML
        paths.append(path)
    first = measure_gap(*paths, out=tmp_path / "report", n=24, size=SIZE, seed=SEED, epochs=1)
    assert first["a"]["kind"] == first["b"]["kind"] == "config"
    root = Path(first["a"]["root"])
    assert root.parent == tmp_path / "report" / "cache"
    shard = next((root / "shards").iterdir())
    written = shard.stat().st_mtime_ns
    again = measure_gap(*paths, out=tmp_path / "report", n=24, size=SIZE, seed=SEED, epochs=1)
    assert shard.stat().st_mtime_ns == written  # read back, not rendered again
    assert again["auc"] == first["auc"]  # and the measurement is a function of the seed


# -- exact statistics -------------------------------------------------------------------------------
def test_auc_by_ranks_counts_every_pair_and_ties_as_halves() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 5, 30).astype(float), rng.integers(1, 6, 40).astype(float)
    pairs = np.mean([(y > x) + 0.5 * (y == x) for x in a for y in b])
    assert roc_auc(a, b) == pytest.approx(pairs, abs=1e-12)
    counts_a, counts_b = bootstrap_counts(30, 3, rng), bootstrap_counts(40, 3, rng)
    for r, value in enumerate(weighted_auc(a, b, counts_a, counts_b)):
        x, y = np.repeat(a, counts_a[r]), np.repeat(b, counts_b[r])
        assert value == pytest.approx(np.mean([(v > u) + 0.5 * (v == u) for u in x for v in y]), abs=1e-12)


def test_weighted_mmd_is_the_unbiased_estimate() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20, 4)), rng.normal(size=(25, 4)) + 0.3
    kxx, kyy = polynomial_kernel(x, x), polynomial_kernel(y, y)
    unbiased = (
        (kxx.sum() - np.trace(kxx)) / (20 * 19)
        + (kyy.sum() - np.trace(kyy)) / (25 * 24)
        - 2 * polynomial_kernel(x, y).mean()
    )
    assert weighted_mmd2(x, y, np.ones((1, 20)), np.ones((1, 25)))[0] == pytest.approx(unbiased, rel=1e-12)


def test_image_statistics() -> None:
    flat = np.full((2, 8, 8, 3), 100, np.uint8)
    stats = image_stats(flat)
    np.testing.assert_allclose(stats.brightness, 100.0)
    np.testing.assert_allclose(stats.contrast, 0.0, atol=1e-12)
    np.testing.assert_allclose(stats.sharpness, 0.0, atol=1e-12)
    brighter = image_stats(flat + 40)
    assert wasserstein(stats.histograms[0], brighter.histograms[0]) == pytest.approx(40.0)


# -- bad input ------------------------------------------------------------------------------------
def write_png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.zeros((8, 8, 3), np.uint8))


def bad_source(tmp_path: Path, case: str) -> list[str]:
    """Arguments (before B) that make ``case`` happen."""
    if case == "missing":
        return [str(tmp_path / "nowhere")]
    if case == "empty":
        (tmp_path / "empty").mkdir()
        return [str(tmp_path / "empty")]
    if case == "no images":
        (tmp_path / "text").mkdir()
        (tmp_path / "text" / "readme.md").write_text("hello")
        return [str(tmp_path / "text")]
    if case == "not a config":
        (tmp_path / "a.txt").write_text("hello")
        return [str(tmp_path / "a.txt")]
    if case == "bad config":
        (tmp_path / "a.yaml").write_text("colour: red\n")
        return [str(tmp_path / "a.yaml")]
    if case == "broken image":
        (tmp_path / "broken").mkdir()
        (tmp_path / "broken" / "a.png").write_bytes(b"not a png")
        return [str(tmp_path / "broken")]
    if case == "too few":
        for k in range(3):
            write_png(tmp_path / "few" / f"{k}.png")
        return [str(tmp_path / "few")]
    if case == "size":
        write_png(tmp_path / "one" / "a.png")
        return [str(tmp_path / "one"), "--size", "8"]
    raise AssertionError(case)


CASES = {
    "missing": "does not exist",
    "empty": "is empty",
    "no images": "holds no images",
    "not a config": "not a generator config",
    "bad config": "colour",
    "broken image": "cannot read image",
    "too few": "at least 20 images per side",
    "size": "--size must be",
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_ends_in_one_message(
    case: str, data_sets: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = bad_source(tmp_path, case)
    argv = [arguments[0], str(data_sets["canonical"]), "--out", str(tmp_path / "report"), *arguments[1:]]
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("dr-sim: error: ")
    assert CASES[case] in lines[0]
    assert captured.out == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{a}", "{a}"], "same source"),
        (["{a}", "{b}", "-n", "0"], "expected a positive integer"),
        (["{a}", "{b}", "--epochs", "x"], "expected a positive integer"),
        (["{a}"], "the following arguments are required: B"),
        (["{a}", "{b}", "--out", "{file}"], "is a file"),
    ],
)
def test_mismatched_arguments_end_in_one_message(
    argv: list[str], message: str, data_sets: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    paths = {"a": str(data_sets["canonical"]), "b": str(data_sets["full"]), "file": str(tmp_path / "file")}
    out = [] if "--out" in argv else ["--out", str(tmp_path / "report")]
    assert main([*(arg.format(**paths) for arg in argv), *out]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]


def test_two_files_of_one_config_are_refused_before_rendering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("a.yaml", "b.yml"):
        (tmp_path / name).write_text(json.dumps(generator_config("visual", 7)))
    assert main([str(tmp_path / "a.yaml"), str(tmp_path / "b.yml"), "--out", str(tmp_path / "report")]) == 2
    assert "same source" in capsys.readouterr().err
    assert not (tmp_path / "report").exists()
