"""dr-sim generate: images are a function of (seed, index), resumable after kill -9, exact labels, COCO."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from dr_sim.datasets.coco import encode_mask, export_coco, rle_counts
from dr_sim.datasets.config import GeneratorConfig, load_generator_config, resolved_dict
from dr_sim.datasets.generate import generate, main
from dr_sim.datasets.shards import ARRAYS, Shard, read_meta, read_shard, shard_path
from dr_sim.datasets.source import FrozenCamera, ImageSource, seed_for, silhouette_pixels
from dr_sim.datasets.torch_dataset import ShardDataset, collate, target_xy
from dr_sim.errors import ConfigError
from dr_sim.scene.labels import mask_box, unoccluded_pixels

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools.*")
N = 24
SHARDS = 6
CONFIG = {"image_size": 32, "shard_size": 4, "seed": 5}


def write_config(folder: Path, **overrides: object) -> Path:
    path = folder / "generator.yaml"
    path.write_text(json.dumps({**CONFIG, **overrides}))  # JSON is YAML
    return path


def shards_of(root: Path) -> list[Shard]:
    return [read_shard(shard_path(root, k)) for k in range(SHARDS)]


def assert_same_data_set(a: Path, b: Path) -> None:
    for x, y in zip(shards_of(a), shards_of(b), strict=True):
        for name in ARRAYS:
            np.testing.assert_array_equal(getattr(x, name), getattr(y, name), err_msg=name)
        assert x.labels == y.labels


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted one-worker run (exported to COCO) that other runs must reproduce."""
    root = tmp_path_factory.mktemp("reference")
    generate(CONFIG, root, N, export=["coco"], progress=False)
    return root


@pytest.fixture(scope="module")
def source() -> Iterator[ImageSource]:
    config = GeneratorConfig.model_validate(resolved_dict(load_generator_config({**CONFIG, "visibility": "all"})))
    source = ImageSource(config)
    yield source
    source.close()


# -- determinism --------------------------------------------------------------------------------------
def test_two_workers_and_reversed_order_give_the_same_images(reference: Path, tmp_path: Path) -> None:
    generate(CONFIG, tmp_path / "two", N, workers=2, progress=False)
    assert_same_data_set(reference, tmp_path / "two")
    generate(CONFIG, tmp_path / "reversed", N, shards=reversed(range(SHARDS)), progress=False)
    assert_same_data_set(reference, tmp_path / "reversed")


def test_an_image_does_not_depend_on_the_images_rendered_before_it(source: ImageSource) -> None:
    fresh = ImageSource(source.config)
    try:
        for index in (7, 3, 11):
            arrays, labels = fresh.render(index)
            for other in (index + 100, index + 200):
                source.render(other)
            again, again_labels = source.render(index)
            for name, array in arrays.items():
                np.testing.assert_array_equal(array, again[name], err_msg=name)
            assert labels == again_labels
    finally:
        fresh.close()


def test_seeds_differ_per_image_and_per_config_seed() -> None:
    seeds = {seed_for(0, i) for i in range(100)} | {seed_for(1, i) for i in range(100)}
    assert len(seeds) == 200


# -- resume -------------------------------------------------------------------------------------------
def test_a_run_killed_with_sigkill_resumes_to_the_uninterrupted_result(reference: Path, tmp_path: Path) -> None:
    config, root = write_config(tmp_path), tmp_path / "killed"
    command = [sys.executable, "-m", "dr_sim.datasets.generate", str(config), "--out", str(root), "-n", str(N)]
    process = subprocess.Popen([*command, "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not shard_path(root, 0).exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read() if process.stderr else ""
    present = [k for k in range(SHARDS) if shard_path(root, k).exists()]
    assert 0 < len(present) < SHARDS, f"not killed mid-run: shards {present} were complete"
    for k in present:  # whatever exists is complete and readable
        assert len(read_shard(shard_path(root, k))) == 4
    assert not (root / "manifest.jsonl").exists() or len(present) == SHARDS
    (root / "shards" / ".shard-000005.npz.abc.tmp").write_bytes(b"half a shard")  # as a kill mid-write leaves
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert f"{N}/{N} [" in result.stderr  # the bar reached the whole set
    assert "images/s" in result.stderr
    assert not list((root / "shards").glob(".*.tmp"))
    assert_same_data_set(reference, root)
    assert (root / "manifest.jsonl").read_text() == (reference / "manifest.jsonl").read_text()


def test_rerunning_a_complete_set_renders_nothing(reference: Path) -> None:
    before = {k: shard_path(reference, k).stat().st_mtime_ns for k in range(SHARDS)}
    summary = generate(CONFIG, reference, N, progress=False)
    assert summary["rendered"] == 0
    assert summary["skipped"] == SHARDS
    assert before == {k: shard_path(reference, k).stat().st_mtime_ns for k in range(SHARDS)}


# -- format and labels ----------------------------------------------------------------------------------
def test_dataset_json_and_manifest_describe_the_shards(reference: Path) -> None:
    meta = read_meta(reference)
    assert meta["count"] == N
    assert meta["shard_size"] == 4
    assert meta["image_size"] == 32
    assert meta["categories"] == {"1": "target", "2": "distractor", "3": "table", "4": "floor", "5": "other"}
    assert meta["config"]["seed"] == 5
    assert isinstance(meta["config"]["randomization"], dict)  # expanded: no file needed to reproduce it
    lines = [json.loads(line) for line in (reference / "manifest.jsonl").read_text().splitlines()]
    assert [line["index"] for line in lines] == list(range(N))
    labels = [label for shard in shards_of(reference) for label in shard.labels]
    for line, label in zip(lines, labels, strict=True):
        assert line["seed"] == label["seed"] == seed_for(5, line["index"])
        assert line["shard"] == line["index"] // 4
        assert line["randomization"] == label["randomization"]
    assert len({json.dumps(line["randomization"]) for line in lines}) == N


def test_arrays_and_labels_agree(reference: Path) -> None:
    shard = read_shard(shard_path(reference, 1))
    np.testing.assert_array_equal(shard.index, [4, 5, 6, 7])
    assert shard.rgb.shape == (4, 32, 32, 3)
    assert shard.rgb.dtype == np.uint8
    assert shard.depth_mm.dtype == np.uint16
    assert shard.instance.dtype == shard.semantic.dtype == np.uint8
    for i, label in enumerate(shard.labels):
        objects = label["objects"]
        assert objects[0]["name"] == "object"
        assert objects[0]["category"] == 1
        assert all(o["category"] == 2 for o in objects[1:])
        assert label["target"]["position"] == objects[0]["position"]
        for j, item in enumerate(objects):
            mask = shard.instance[i] == j + 1
            assert item["pixels"] == mask.sum()
            assert item["box"] == mask_box(mask)
            assert np.all(shard.semantic[i][mask] == item["category"])
        assert shard.instance[i].max() <= len(objects)
        assert 3 in shard.semantic[i]  # the table
        # The target's centre projects inside its box, and depth there is its distance along z (mm).
        k, pose = np.array(label["camera"]["K"]), np.array(label["camera"]["pose"])
        centre = np.linalg.inv(pose) @ [*objects[0]["position"], 1.0]
        u, v = (k @ centre[:3])[:2] / centre[2]
        x0, y0, x1, y1 = objects[0]["box"]
        assert x0 <= u <= x1
        assert y0 <= v <= y1
        assert abs(shard.depth_mm[i][int(v), int(u)] - centre[2] * 1000) < 40  # a 4 cm cube
        assert 0 < objects[0]["visibility"] <= 1


def test_the_window_silhouette_counts_exactly_what_a_full_render_counts(source: ImageSource) -> None:
    checked = 0
    for index in range(30):
        source.render(index)
        camera = FrozenCamera(source.session.camera)
        seen = camera.render(None, depth=False, segmentation=True).body
        shown = [body for body in source._distractors() if body in seen]
        bodies = [body for _, body in source.objects] + shown
        for body in bodies:
            occluders = [other for other in bodies if other != body]
            full = unoccluded_pixels(camera, body, occluders)
            assert silhouette_pixels(camera, seen, body, source._corners[body], occluders) == full
            checked += full > (seen == body).sum()  # a hidden part was counted
    assert checked >= 5


def test_visibility_all_labels_distractors_too(source: ImageSource) -> None:
    for index in range(6):
        _, labels = source.render(index)
        for item in labels["objects"]:
            assert item["visibility"] is not None
            assert 0 <= item["visibility"] <= 1
            assert (item["visibility"] == 0) == (item["pixels"] == 0)


# -- COCO ---------------------------------------------------------------------------------------------
def test_coco_export_loads_in_pycocotools_and_matches_the_shards(reference: Path) -> None:
    coco = COCO(str(reference / "coco" / "annotations.json"))
    assert len(coco.getImgIds()) == N
    labels = {label["index"]: (shard, i) for shard in shards_of(reference) for i, label in enumerate(shard.labels)}
    annotated = 0
    for annotation in coco.loadAnns(coco.getAnnIds()):
        shard, i = labels[annotation["image_id"]]
        objects = shard.labels[i]["objects"]
        j = next(j for j, item in enumerate(objects) if item["name"] == annotation["name"])
        mask = shard.instance[i] == j + 1
        np.testing.assert_array_equal(coco.annToMask(annotation).astype(bool), mask)
        x0, y0, x1, y1 = objects[j]["box"]
        assert annotation["bbox"] == [x0, y0, x1 - x0, y1 - y0]
        assert annotation["area"] == mask.sum() == objects[j]["pixels"]
        assert annotation["category_id"] == objects[j]["category"]
        assert len(annotation["keypoints"]) == 24
        assert set(annotation["keypoints"][2::3]) <= {1, 2}
        annotated += 1
    assert annotated >= N  # every image shows at least its target
    image = coco.loadImgs([3])[0]
    png = reference / "coco" / "images" / image["file_name"]
    depth = reference / "coco" / image["depth_file"]
    import cv2

    shard, i = labels[3]
    np.testing.assert_array_equal(cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB), shard.rgb[i])
    np.testing.assert_array_equal(cv2.imread(str(depth), cv2.IMREAD_UNCHANGED), shard.depth_mm[i])
    assert export_coco(reference) == reference / "coco" / "annotations.json"  # again: same files


def test_rle_encoder_matches_pycocotools() -> None:
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (5, 7), (32, 32), (17, 40)]:
        for density in (0.0, 0.1, 0.5, 1.0):
            mask = rng.random(shape) < density
            expected = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
            assert encode_mask(mask)["counts"] == expected["counts"].decode()
            assert sum(rle_counts(mask)) == mask.size


# -- torch ------------------------------------------------------------------------------------------------
def test_shard_dataset_returns_images_and_the_target_position(reference: Path) -> None:
    dataset = ShardDataset(reference)
    assert len(dataset) == N
    sample = dataset[13]
    shard = read_shard(shard_path(reference, 3))
    np.testing.assert_array_equal(sample["rgb"], shard.rgb[1])
    np.testing.assert_allclose(sample["depth"], shard.depth_mm[1] / 1000.0, rtol=1e-6)
    assert sample["depth"].dtype == np.float32
    assert sample["labels"] == shard.labels[1]
    xy = target_xy(sample)
    assert xy.dtype == np.float32
    np.testing.assert_allclose(xy, shard.labels[1]["objects"][0]["position"][:2], rtol=1e-6)
    loader = torch.utils.data.DataLoader(dataset, batch_size=5, collate_fn=collate)
    batch = next(iter(loader))
    assert batch["rgb"].shape == (5, 32, 32, 3)
    assert batch["target_xy"].shape == (5, 2)
    assert len(batch["labels"]) == 5
    with pytest.raises(IndexError):
        dataset[N]


# -- errors -------------------------------------------------------------------------------------------------
def one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("dr-sim: error: ")
    return err


def test_config_errors_end_in_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "out")
    err = one_line_error([str(write_config(tmp_path, visibilty="all")), "--out", out, "-n", "4"], capsys)
    assert "unknown key 'visibilty'" in err
    assert "Did you mean 'visibility'?" in err
    err = one_line_error([str(write_config(tmp_path, env="dr_sim/Localise-v0")), "--out", out, "-n", "4"], capsys)
    assert "unknown env id 'dr_sim/Localise-v0'" in err
    assert "Did you mean 'dr_sim/Localize-v0'?" in err
    err = one_line_error([str(tmp_path / "missing.yaml"), "--out", out, "-n", "4"], capsys)
    assert "missing.yaml' does not exist" in err
    err = one_line_error([str(write_config(tmp_path, randomization="dr.yaml")), "--out", out, "-n", "4"], capsys)
    assert str(tmp_path / "dr.yaml") in err  # resolved against the config file's folder
    err = one_line_error([str(write_config(tmp_path, objects=["obj"])), "--out", out, "-n", "4"], capsys)
    assert "no body named 'obj'" in err
    assert "Did you mean 'object'?" in err
    err = one_line_error([str(write_config(tmp_path, image_size=0)), "--out", out, "-n", "4"], capsys)
    assert "image_size" in err
    err = one_line_error([str(write_config(tmp_path)), "--out", out, "-n", "0"], capsys)
    assert "positive" in err
    assert not (tmp_path / "out").exists()  # nothing written before the config is known to be good


def test_a_different_config_never_overwrites_a_data_set(
    reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (reference / "dataset.json").read_text()
    err = one_line_error([str(write_config(tmp_path, seed=6)), "--out", str(reference), "-n", str(N)], capsys)
    assert "config.seed: 5 there, 6 asked" in err
    err = one_line_error([str(write_config(tmp_path)), "--out", str(reference), "-n", str(N - 1)], capsys)
    assert f"count: {N} there, {N - 1} asked" in err  # a smaller count is never cut (a larger one extends)
    assert (reference / "dataset.json").read_text() == before
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    err = one_line_error([str(write_config(tmp_path)), "--out", str(foreign), "-n", "4"], capsys)
    assert "not empty" in err
    assert sorted(os.listdir(foreign)) == ["notes.txt"]


def test_env_kwargs_cannot_override_what_the_generator_sets() -> None:
    with pytest.raises(ConfigError, match="'obs_type' is set by the generator"):
        load_generator_config({"env_kwargs": {"obs_type": "rgb"}})
