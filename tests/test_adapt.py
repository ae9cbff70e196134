"""Paired renders and image-to-image adaptation: the canonical look keeps the geometry, RCAN and pix2pix
learn, ``dr-sim adapt train`` writes a run folder, ``dr-sim adapt apply`` translates a folder, and bad
input ends in one clear line."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
import yaml

from dr_sim.adapt.cli import main
from dr_sim.adapt.config import load_adapt_config
from dr_sim.adapt.data import load_pairs
from dr_sim.adapt.run import load_generator
from dr_sim.adapt.training import Optimizers, Translator, batch_of
from dr_sim.datasets.config import load_generator_config
from dr_sim.datasets.paired import PairedSource, generate_pairs
from dr_sim.datasets.source import ImageSource
from dr_sim.errors import ConfigError

SIZE = 32  # px
PAIRS = 24


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Any:
    """Train on one torch thread, as the adapt config's default does (two threads contend on 2 cores)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def generator(randomization: Any = "full", seed: int = 5) -> dict[str, Any]:
    return {"image_size": SIZE, "randomization": randomization, "seed": seed, "visibility": "none", "shard_size": 10}


@pytest.fixture(scope="module")
def pair_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pairs") / "pairs"
    summary = generate_pairs(generator(), root, PAIRS, progress=False)
    assert summary["rendered"] == 3
    return root


def tiny_config(pair_root: Path, out: Path, **changes: Any) -> dict[str, Any]:
    return {
        "method": "rcan",
        "data": {"path": str(pair_root)},
        "model": {"channels": [8, 16]},
        "epochs": 2,
        "batch_size": 8,
        "val_fraction": 0.25,
        "out": str(out),
        **changes,
    }


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``python -m dr_sim.adapt.cli ARGV``: (exit code, stdout, stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(argv)
    return code, stdout.getvalue(), stderr.getvalue()


def assert_one_line_error(argv: list[str], *needles: str) -> None:
    code, _, stderr = run_cli(argv)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2
    assert len(lines) == 1, stderr
    assert lines[0].startswith("dr-sim: error: ")
    for needle in needles:
        assert needle in lines[0]


# -- paired renders -----------------------------------------------------------------------------------
def test_canonical_render_keeps_geometry_and_resets_the_look() -> None:
    source = PairedSource(load_generator_config(generator()))
    try:
        differences = []
        for index in range(4):
            _, labels = source.render(index)
            randomized = source.session.last_frame
            canonical = source.canonical_frame(labels["randomization"])
            assert np.array_equal(canonical.body, randomized.body)  # same bodies on the same pixels
            assert np.array_equal(canonical.link, randomized.link)
            np.testing.assert_array_equal(canonical.depth, randomized.depth)
            differences.append(np.abs(canonical.rgb.astype(int) - randomized.rgb).mean())
        assert min(differences) > 5.0  # levels: the full preset's look is gone
        # The canonical look is one look: the table pixels are the same colour whatever was drawn.
        first = source.canonical_frame(source.render(0)[1]["randomization"]).rgb
        again = source.canonical_frame(source.render(0)[1]["randomization"]).rgb
        assert np.array_equal(first, again)
    finally:
        source.close()


def test_structured_scenes_keep_their_settled_geometry_in_the_canonical_render(example_configs: Path) -> None:
    config = load_generator_config(generator(str(example_configs / "sdr_localize.yaml")))
    source = PairedSource(config)
    try:
        for index in range(3):
            _, labels = source.render(index)
            randomized = source.session.last_frame
            canonical = source.canonical_frame(labels["randomization"])
            assert np.array_equal(canonical.body, randomized.body)
            np.testing.assert_array_equal(canonical.depth, randomized.depth)
    finally:
        source.close()


def test_canonical_light_is_the_renderers_own() -> None:
    """Under a camera-only randomization the scene keeps its nominal look, so both renders agree bit for
    bit: the canonical light is exactly TinyRenderer's default, even after randomized lights were set."""
    camera = {"camera": {"eye": {"type": "uniform", "low": [-0.05] * 3, "high": [0.05] * 3, "op": "add"}}}
    lit = PairedSource(load_generator_config(generator()))  # sets randomized lights on its client
    source = PairedSource(load_generator_config(generator(camera)))
    try:
        lit.render_pair(0)
        for index in range(3):
            randomized, canonical, _ = source.render_pair(index)
            assert np.array_equal(randomized["rgb"], canonical["rgb"])
    finally:
        lit.close()
        source.close()


def test_pair_folder_holds_both_looks_and_the_generators_images(pair_root: Path) -> None:
    pairs = load_pairs(pair_root)
    assert len(pairs) == PAIRS
    assert pairs.inputs.shape == pairs.targets.shape == (PAIRS, 3, SIZE, SIZE)
    plain = ImageSource(load_generator_config(generator()))  # what dr-sim generate renders
    try:
        for index in (0, 13, 23):
            rgb = torch.from_numpy(plain.render(index)[0]["rgb"]).permute(2, 0, 1)
            assert torch.equal(pairs.inputs[index], rgb)
    finally:
        plain.close()
    assert float(pairs.depth.min()) > 0.1  # metres: the camera sees the table about a metre away
    assert set(pairs.semantic.unique().tolist()) >= {1, 3}  # the target and the table are labelled
    assert generate_pairs(generator(), pair_root, PAIRS, progress=False)["rendered"] == 0  # complete: resumed
    with pytest.raises(ConfigError, match="different settings"):
        generate_pairs(generator(seed=6), pair_root, PAIRS, progress=False)


# -- learning ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["rcan", "pix2pix"])
def test_training_steps_reduce_the_l1_loss_on_a_fixed_batch(pair_root: Path, tmp_path: Path, method: str) -> None:
    changes: dict[str, Any] = {"method": method, "lr": 0.003}
    if method == "rcan":
        changes["losses"] = {"adversarial": 0.01}  # the optional PatchGAN as well as both heads
    config = load_adapt_config(tiny_config(pair_root, tmp_path, **changes))
    translator = Translator.build(config, np.random.default_rng(0))
    assert (translator.generator.segmentation is not None) == (method == "rcan")
    assert translator.discriminator is not None
    optimizers = Optimizers(translator)
    pairs = load_pairs(pair_root)
    batch = batch_of(pairs, torch.arange(8))
    translator.generator.train()
    first = optimizers.step(dict(batch))
    for _ in range(40):
        last = optimizers.step(dict(batch))
    assert last["l1"] < 0.6 * first["l1"]
    assert "discriminator" in last
    if method == "rcan":
        assert last["segmentation"] < first["segmentation"]
        assert last["depth"] < first["depth"]


def test_runs_are_functions_of_their_config(pair_root: Path, tmp_path: Path) -> None:
    from dr_sim.adapt.training import fit

    config = load_adapt_config(tiny_config(pair_root, tmp_path, epochs=1))
    pairs = load_pairs(pair_root)
    first, _ = fit(config, pairs)
    second, _ = fit(config, pairs)
    for a, b in zip(first.generator.state_dict().values(), second.generator.state_dict().values(), strict=True):
        assert torch.equal(a, b)


# -- the commands -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_run(pair_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("adapt")
    config = folder / "rcan.yaml"
    config.write_text(yaml.safe_dump(tiny_config(pair_root, folder / "ignored")))
    code, stdout, stderr = run_cli(["train", str(config), "--out", str(folder / "run"), "--quiet"])
    assert code == 0, stderr
    assert "trained rcan" in stdout
    return folder / "run"


def test_train_writes_a_run_folder(trained_run: Path) -> None:
    names = {path.name for path in trained_run.iterdir()}
    assert {"config.yaml", "git.txt", "command.txt", "model.pt", "metrics.json", "examples.png"} <= names
    resolved = yaml.safe_load((trained_run / "config.yaml").read_text())
    assert resolved["losses"] == {
        "l1": 1.0,
        "object_weight": 0.0,
        "segmentation": 0.1,
        "depth": 0.1,
        "adversarial": 0.0,
    }
    assert resolved["out"] == str(trained_run)
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert [row["epoch"] for row in metrics["history"]] == [1, 2]
    assert metrics["val_pairs"] == 6
    assert metrics["val_l1_levels"] > 0
    picture = cv2.imread(str(trained_run / "examples.png"))
    tile = 4 * SIZE + 2  # 32 px enlarged 4x to 128 px, with the sheet's gap
    assert picture.shape[0] == 3 * tile + 2  # rows: input, translation, canonical render
    assert picture.shape[1] == 6 * tile + 2  # the six validation pairs
    generator, info = load_generator(trained_run)
    assert info["image_size"] == SIZE
    assert not generator.training


def test_apply_writes_the_same_count_size_and_names(trained_run: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    shapes = {"a.png": (SIZE, SIZE), "b.PNG": (48, 80), "sub/c.jpg": (100, 60)}
    for name, (height, width) in shapes.items():
        cv2.imwrite(str(inputs / name), rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    (inputs / "notes.txt").write_text("not an image")
    code, stdout, stderr = run_cli(["apply", str(trained_run), str(inputs), str(tmp_path / "out"), "--quiet"])
    assert code == 0, stderr
    assert "translated 3 images" in stdout
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written == sorted(shapes)
    for name, (height, width) in shapes.items():
        image = cv2.imread(str(tmp_path / "out" / name))
        assert image.shape == (height, width, 3)
    # The translation of an image is what the generator makes of it (the 32 px input is not resized).
    generator, _ = load_generator(trained_run)
    source = cv2.cvtColor(cv2.imread(str(inputs / "a.png")), cv2.COLOR_BGR2RGB)
    with torch.no_grad():
        expected = generator(torch.from_numpy(source).permute(2, 0, 1)[None].float() / 127.5 - 1.0)
    expected_rgb = ((expected[0].permute(1, 2, 0) + 1.0) * 127.5).round().clamp(0, 255).numpy().astype(np.uint8)
    written_rgb = cv2.cvtColor(cv2.imread(str(tmp_path / "out" / "a.png")), cv2.COLOR_BGR2RGB)
    assert np.abs(written_rgb.astype(int) - expected_rgb).max() <= 1
    assert not np.array_equal(written_rgb, source)


def test_bad_input_ends_in_one_line(trained_run: Path, pair_root: Path, tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "x.png"), np.zeros((SIZE, SIZE, 3), np.uint8))
    assert_one_line_error(["apply", str(tmp_path / "nope"), str(images), str(tmp_path / "o")], "no model.pt")
    assert_one_line_error(["apply", str(trained_run), str(tmp_path / "missing"), str(tmp_path / "o")], "does not exist")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(["apply", str(trained_run), str(empty), str(tmp_path / "o")], "holds no images")
    assert_one_line_error(["apply", str(trained_run), str(images), str(images / "out")], "IN_DIR or lies inside")
    assert_one_line_error(["apply", str(trained_run), str(images), str(images / "x.png")], "is a file")
    assert_one_line_error(["apply", str(trained_run), str(images)], "required: OUT_DIR")
    assert_one_line_error([], "required: {train,apply}")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**tiny_config(pair_root, tmp_path / "r"), "method": "rcn"}))
    assert_one_line_error(["train", str(bad)], str(bad), "Did you mean 'rcan'?")
    bad.write_text(
        yaml.safe_dump({**tiny_config(pair_root, tmp_path / "r"), "method": "pix2pix", "losses": {"depth": 1}})
    )
    assert_one_line_error(["train", str(bad)], "pix2pix has no segmentation or depth heads")
    bad.write_text(yaml.safe_dump({**tiny_config(images, tmp_path / "r")}))
    assert_one_line_error(["train", str(bad)], "is not a pair folder")
    bad.write_text(
        yaml.safe_dump({**tiny_config(pair_root, tmp_path / "r"), "model": {"channels": [8, 8, 8, 8, 8, 8]}})
    )
    assert_one_line_error(["train", str(bad)], "multiple of 64 px")


def test_object_pixels_weigh_more_in_the_l1_when_asked() -> None:
    import torch

    from dr_sim.adapt.training import weighted_l1
    from dr_sim.datasets.shards import TABLE, TARGET

    target = torch.zeros(1, 3, 4, 4)
    semantic = torch.full((1, 4, 4), TABLE, dtype=torch.long)
    semantic[0, 0, 0] = TARGET  # one target pixel on the table
    on_object, off_object = target.clone(), target.clone()
    on_object[0, :, 0, 0] = 1.0
    off_object[0, :, 3, 3] = 1.0
    plain = torch.nn.functional.l1_loss(on_object, target)
    assert weighted_l1(on_object, target, semantic, 0.0) == pytest.approx(float(plain))
    assert weighted_l1(off_object, target, semantic, 0.0) == pytest.approx(float(plain))
    # 16 pixels, one of them weighing 21: an error there is 21 times one elsewhere
    assert weighted_l1(on_object, target, semantic, 20.0) == pytest.approx(21.0 / 36.0)
    assert weighted_l1(off_object, target, semantic, 20.0) == pytest.approx(1.0 / 36.0)
