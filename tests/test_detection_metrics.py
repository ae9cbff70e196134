"""COCO box AP (dr_sim.detection.metrics): known cases, pycocotools agreement, bootstrap, input checks."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json

import numpy as np
import pytest

pytest.importorskip("pycocotools")

from dr_sim.detection import Detections, ImageBoxes, class_matcher, coco_scores, truth_from_labels
from dr_sim.detection.accumulate import class_records, precision_table
from dr_sim.detection.coco_eval import evaluate_coco
from dr_sim.detection.metrics import SUMMARY, summary_selectors, summary_values
from dr_sim.errors import ConfigError

NAMES = ["duck", "mug", "box"]
SIZE = 128  # px, the images' side


def random_set(rng: np.random.Generator, images: int, false_per_image: int = 8) -> tuple[list, list]:
    """Images of 1-4 objects of 4-60 px; detections: each object jittered by ~4 px with a score in
    [0.3, 1], plus random false boxes scoring [0, 0.8]; scores rounded to 0.01 (ties across images)."""
    truth, detections = [], []
    for i in range(images):
        count = int(rng.integers(1, 5))
        corner = rng.uniform(0, SIZE * 0.7, (count, 2))
        boxes = np.concatenate([corner, np.minimum(corner + rng.uniform(4, 60, (count, 2)), SIZE)], axis=1)
        classes = rng.integers(0, len(NAMES), count)
        truth.append(ImageBoxes(10 * i + 3, SIZE, SIZE, boxes, classes))
        jittered = boxes + rng.normal(0, 4, boxes.shape)
        jittered[:, 2:] = np.maximum(jittered[:, 2:], jittered[:, :2] + 1)
        false_corner = rng.uniform(0, SIZE * 0.7, (false_per_image, 2))
        false_boxes = np.concatenate([false_corner, false_corner + rng.uniform(4, 60, (false_per_image, 2))], axis=1)
        scores = np.concatenate([rng.uniform(0.3, 1, count), rng.uniform(0, 0.8, false_per_image)]).round(2)
        found = np.concatenate([classes, rng.integers(0, len(NAMES), false_per_image)])
        detections.append(Detections(10 * i + 3, np.concatenate([jittered, false_boxes]), scores, found))
    return truth, detections


def fed_back(truth: list[ImageBoxes]) -> list[Detections]:
    """The ground truth as detections of score 1."""
    return [Detections(t.image_id, t.boxes, np.ones(len(t.boxes)), t.classes) for t in truth]


def random_detections(rng: np.random.Generator, image_id: int, count: int) -> Detections:
    """``count`` boxes with uniform random corners in the image, random scores and classes."""
    corners = np.sort(rng.uniform(0, SIZE, (count, 2, 2)), axis=1)  # (min, max) of x and y
    return Detections(image_id, corners.reshape(count, 4), rng.uniform(size=count), rng.integers(0, len(NAMES), count))


def one_box(box: list[float], image_id: int = 0) -> ImageBoxes:
    return ImageBoxes(image_id, 64, 64, np.array([box]), np.array([0]))


@pytest.fixture(scope="module")
def realistic() -> tuple[list, list]:
    return random_set(np.random.default_rng(1), 120)


def test_ground_truth_fed_back_scores_one(realistic: tuple[list, list]) -> None:
    truth, _ = realistic
    scores = coco_scores(truth, fed_back(truth), NAMES, bootstrap=20)
    for estimate in (scores.ap, scores.ap50, scores.ap75, *scores.per_class.values()):
        assert estimate.value == pytest.approx(1.0, abs=1e-12)  # COCO's precision tp / (tp + fp + eps)
        assert estimate.interval == pytest.approx((1.0, 1.0), abs=1e-12)
    assert scores.ap_large.value is None  # no object of more than 96² px² in 128 px images
    assert scores.objects == sum(len(t.boxes) for t in truth) == sum(scores.objects_per_class.values())


def test_shuffled_boxes_score_near_zero(realistic: tuple[list, list]) -> None:
    truth, _ = realistic
    others = fed_back([*truth[1:], truth[0]])  # each image gets the next image's boxes
    shuffled = [dataclasses.replace(d, image_id=t.image_id) for d, t in zip(others, truth, strict=True)]
    rng = np.random.default_rng(0)
    random_boxes = [random_detections(rng, t.image_id, 5) for t in truth]
    for detections in (shuffled, random_boxes):
        assert coco_scores(truth, detections, NAMES, bootstrap=0).ap.value < 0.05


def test_known_iou_counts_at_half_not_at_three_quarters() -> None:
    # IoU of [0, 0, 10, 6.2] with [0, 0, 10, 10]: 62 / 100 = 0.62, a match at IoU 0.50, 0.55 and 0.60 only
    scores = coco_scores([one_box([0, 0, 10, 10])], [Detections(0, [[0, 0, 10, 6.2]], [0.9], [0])], ["duck"])
    assert scores.ap50.value == pytest.approx(1.0)
    assert scores.ap75.value == 0.0
    assert scores.ap.value == pytest.approx(0.3)
    assert scores.ap_small.value == pytest.approx(0.3)  # 100 px² < 32²
    assert scores.ap_medium.value is None
    assert scores.ap_medium.interval is None


def test_half_recall_reads_51_of_101_recall_points() -> None:
    truth = ImageBoxes(0, 64, 64, np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([0, 0]))
    scores = coco_scores([truth], [Detections(0, [[0, 0, 10, 10]], [0.5], [0])], ["duck"], bootstrap=0)
    assert scores.ap50.value == pytest.approx(51 / 101)  # precision 1 up to recall 0.5, 0 beyond


def test_accumulate_equals_pycocotools_summarize(realistic: tuple[list, list]) -> None:
    truth, detections = realistic
    evaluation = evaluate_coco(truth, detections, NAMES)
    mine = precision_table(class_records(evaluation), np.arange(len(truth)), evaluation.params.recThrs)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation.accumulate()
        evaluation.summarize()
    values = summary_values(mine, summary_selectors(evaluation.params))[: len(SUMMARY)]
    theirs = np.where(evaluation.stats[: len(SUMMARY)] == -1, np.nan, evaluation.stats[: len(SUMMARY)])
    np.testing.assert_allclose(values, theirs, rtol=0, atol=1e-9)
    precision = evaluation.eval["precision"][..., -1].transpose(2, 3, 0, 1)  # (K, A, T, R) at 100 detections
    np.testing.assert_array_equal(mine, np.where(precision == -1, np.nan, precision))


def test_a_resample_equals_pycocotools_on_the_resampled_images() -> None:
    truth, detections = random_set(np.random.default_rng(2), 40)
    draws = np.random.default_rng(5).integers(0, len(truth), len(truth))
    evaluation = evaluate_coco(truth, detections, NAMES)
    mine = precision_table(class_records(evaluation), draws, evaluation.params.recThrs)
    resampled = evaluate_coco(
        [dataclasses.replace(truth[d], image_id=j) for j, d in enumerate(draws)],
        [dataclasses.replace(detections[d], image_id=j) for j, d in enumerate(draws)],
        NAMES,
    )
    with contextlib.redirect_stdout(io.StringIO()):
        resampled.accumulate()
    precision = resampled.eval["precision"][..., -1].transpose(2, 3, 0, 1)
    np.testing.assert_array_equal(mine, np.where(precision == -1, np.nan, precision))


def test_bootstrap_intervals_hold_the_value_and_are_seeded(realistic: tuple[list, list]) -> None:
    truth, detections = realistic
    scores = coco_scores(truth, detections, NAMES, bootstrap=50, seed=3)
    estimates = [getattr(scores, name) for name, _, _, _ in SUMMARY] + list(scores.per_class.values())
    for estimate in estimates:
        if estimate.value is not None:
            assert estimate.interval[0] <= estimate.value <= estimate.interval[1]
            assert estimate.interval[0] < estimate.interval[1]
    assert coco_scores(truth, detections, NAMES, bootstrap=50, seed=3) == scores
    assert coco_scores(truth, detections, NAMES, bootstrap=50, seed=4).ap.interval != scores.ap.interval
    wider = coco_scores(truth, detections, NAMES, bootstrap=50, seed=3, confidence=0.99).ap.interval
    assert wider[0] <= scores.ap.interval[0]
    assert wider[1] >= scores.ap.interval[1]


def test_images_without_detections_and_the_outputs(realistic: tuple[list, list]) -> None:
    truth, _ = realistic
    nothing = [Detections(t.image_id, np.zeros((0, 4)), np.zeros(0), np.zeros(0, int)) for t in truth]
    scores = coco_scores(truth, nothing, NAMES, bootstrap=5)
    assert scores.ap.value == 0.0
    assert scores.detections == 0
    as_dict = json.loads(json.dumps(scores.as_dict()))
    assert as_dict["ap"] == {"value": 0.0, "interval": [0.0, 0.0]}
    assert as_dict["ap_large"] == {"value": None, "interval": None}
    assert set(as_dict["per_class"]) == set(NAMES)
    lines = scores.format().splitlines()
    assert lines[0].split() == ["metric", "value", "95%", "interval"]
    assert len({line.index("0.000") for line in lines if "0.000 " in line}) == 1  # the values are aligned
    assert "n/a" in scores.format()


def test_class_without_ground_truth_is_none() -> None:
    scores = coco_scores([one_box([0, 0, 10, 10])], [Detections(0, [[0, 0, 10, 10]], [1.0], [1])], ["duck", "mug"])
    assert scores.per_class["duck"].value == 0.0
    assert scores.per_class["mug"].value is None
    assert scores.objects_per_class == {"duck": 1, "mug": 0}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: coco_scores([one_box([0, 0, 5, 5], 1)], [Detections(2, [], [], [])], NAMES), "1 missing"),
        (
            lambda: coco_scores([one_box([0, 0, 5, 5])], [Detections(0, [[0, 0, 5, 5]], [1], [3])], NAMES),
            "outside 0..2",
        ),
        (lambda: coco_scores([one_box([0, 0, 5, 5]), one_box([1, 1, 5, 5])], [], NAMES), "image id 0 appears"),
        (lambda: one_box([5, 0, 4, 5]), "x_max < x_min"),
        (lambda: Detections(0, [[0, 0, 5, 5], [0, 0, 5, float("nan")]], [1, 1], [0, 0]), "box 1 .* NaN"),
        (lambda: Detections(0, [[0, 0, 5, 5]], [1.5], [0]), "outside \\[0, 1\\]"),
        (lambda: Detections(0, [[0, 0, 5, 5]], [1, 1], [0]), "2 scores for 1 boxes"),
        (lambda: coco_scores([one_box([0, 0, 5, 5])], [Detections(0, [], [], [])], ["a", "a"]), "'a' more than once"),
    ],
)
def test_bad_inputs_give_one_clear_error(make, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()


def test_truth_from_generated_labels() -> None:
    labels = [
        {
            "index": 7,
            "camera": {"width": 96, "height": 80},
            "objects": [
                {"name": "duck_0", "box": [1.0, 2.0, 11.0, 12.0], "pixels": 61},
                {"name": "duck_1", "box": None, "pixels": 0},
                {"name": "mug", "box": [20.0, 20.0, 30.0, 40.0], "pixels": 150},
                {"name": "distractor3", "box": [0.0, 0.0, 5.0, 5.0], "pixels": 25},
            ],
        }
    ]
    (truth,) = truth_from_labels(labels, class_matcher(["duck", "mug"]))
    assert (truth.image_id, truth.width, truth.height) == (7, 96, 80)
    np.testing.assert_array_equal(truth.boxes, [[1, 2, 11, 12], [20, 20, 30, 40]])
    np.testing.assert_array_equal(truth.classes, [0, 1])
    np.testing.assert_array_equal(truth.object_areas(), [61, 150])  # visible pixels, not the boxes' 100 and 200
    with pytest.raises(ConfigError, match="image 7 have no 'camera'"):
        truth_from_labels([{"index": 7, "objects": []}], class_matcher(["duck"]))


def test_class_matcher() -> None:
    class_of = class_matcher(["duck", "duck_2x", "mug_1"])
    assert [class_of(n) for n in ["duck", "duck_0", "duck_12", "duck_2x", "mug_1", "mug_1_3", "mug", "ducky"]] == [
        0, 0, 0, 1, 2, 2, None, None,
    ]  # fmt: skip
