"""evaluate_augmentation.py --real-counts: the scores against hand-computed values, the arms'
arithmetic, the refusals (before anything loads or is written), and the script end to end on a tiny
conditional session."""
import csv
import shutil

import numpy as np
import pytest
import yaml

import evaluate_augmentation
from conftest import run_script, snapshot
from generation.balance import top_up
from metrics import imbalance, usefulness
from test_evaluate import assert_refused, write_idx
from utils.errors import UserError

QUICK = ["--repeats", "2", "--epochs", "1"]
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

# Rows: true class a, b, c, d; columns: predicted. c is never predicted; d is neither in the test set
# nor predicted.
MATRIX = np.array([[3, 1, 0, 0],
                   [1, 2, 0, 0],
                   [2, 0, 0, 0],
                   [0, 0, 0, 0]])


# --- the scores ----------------------------------------------------------------------------------

def test_the_confusion_matrix_counts_true_class_by_row_and_prediction_by_column():
    labels = [0, 0, 0, 0, 1, 1, 1, 2, 2]
    predicted = [0, 0, 0, 1, 0, 1, 1, 0, 0]
    assert np.array_equal(imbalance.confusion(labels, predicted, 4), MATRIX)


def test_recall_f1_balanced_accuracy_and_macro_f1_by_hand():
    # recall = tp / row sum: a 3/4, b 2/3, c 0/2; d has no test image: undefined, not a failure.
    recalls = imbalance.recalls(MATRIX)
    np.testing.assert_allclose(recalls[:3], [0.75, 2 / 3, 0.0])
    assert np.isnan(recalls[3])
    # F1 = 2 tp / (2 tp + fp + fn): a 6 / (6 + 3 + 1), b 4 / (4 + 1 + 1), c 0 / (0 + 0 + 2).
    # a's by precision and recall: 2 * (3/6) * (3/4) / (3/6 + 3/4) = 0.6.
    f1 = imbalance.f1_scores(MATRIX)
    np.testing.assert_allclose(f1[:3], [0.6, 2 / 3, 0.0])
    assert np.isnan(f1[3])
    assert imbalance.balanced_accuracy(MATRIX) == pytest.approx((0.75 + 2 / 3 + 0) / 3)  # 0.4722, d left out
    assert imbalance.macro_f1(MATRIX) == pytest.approx((0.6 + 2 / 3 + 0) / 3)  # 0.4222, d left out
    # Plain accuracy would be 5/9: a single frequent class right hides c's 0.
    # Once d is predicted (an image of a taken for d) it is a class that got something wrong: F1 0.
    predicted_d = MATRIX + np.array([[0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    assert imbalance.f1_scores(predicted_d)[3] == 0.0
    assert imbalance.macro_f1(predicted_d) == pytest.approx((6 / 11 + 2 / 3 + 0 + 0) / 4)
    assert imbalance.balanced_accuracy(predicted_d) == pytest.approx((0.6 + 2 / 3 + 0) / 3)


def test_a_perfect_classifier_scores_one_and_a_constant_one_scores_one_over_the_classes():
    perfect = np.diag([5, 1, 2])
    assert imbalance.balanced_accuracy(perfect) == 1.0 and imbalance.macro_f1(perfect) == 1.0
    always_first = np.array([[5, 0, 0], [1, 0, 0], [2, 0, 0]])
    assert imbalance.balanced_accuracy(always_first) == pytest.approx(1 / 3)
    assert imbalance.macro_f1(always_first) == pytest.approx((2 * 5 / (10 + 3)) / 3)


# --- the arms ------------------------------------------------------------------------------------

def test_oversampling_repeats_whole_copies_then_a_seeded_remainder():
    labels = np.array([0] * 12 + [1] * 3 + [2] * 4)
    chosen = imbalance.oversample(labels, 3, 10, seed=0)
    assert np.array_equal(np.bincount(labels[chosen]), [12, 10, 10])
    times = np.bincount(chosen, minlength=len(labels))
    assert list(times[:12]) == [1] * 12  # at or above the target: once each
    assert sorted(times[12:15]) == [3, 3, 4]  # 10 = 3 whole copies of 3, and one image once more
    assert sorted(times[15:]) == [2, 2, 3, 3]  # 10 = 2 whole copies of 4, and two images once more
    assert np.array_equal(chosen, imbalance.oversample(labels, 3, 10, seed=0))
    assert any(not np.array_equal(chosen, imbalance.oversample(labels, 3, 10, seed=s)) for s in range(1, 6))
    assert np.array_equal(np.bincount(labels[imbalance.oversample(labels, 3, 6, seed=0)]), [12, 6, 6])


def pool(counts, seed=0):
    """LabelledImages with counts[c] images of class c, each image's pixels its index in the pool."""
    labels = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    images = np.broadcast_to(np.arange(len(labels), dtype=np.uint8)[:, None, None, None], (len(labels), 4, 4, 1))
    return usefulness.LabelledImages(np.array(images), labels)


def test_the_arms_share_their_real_images_and_reach_the_target_per_class():
    real = pool([9, 6, 5])
    counts, target = [5, 2, 1], 5
    plan = top_up(counts, target)
    assert plan == [0, 3, 4]

    def synthesize(seed):  # generated images are 255, which no pool image is
        labels = np.repeat(np.arange(3, dtype=np.int32), plan)
        return usefulness.LabelledImages(np.full((len(labels), 4, 4, 1), 255, np.uint8), labels)

    sets = imbalance.training_sets(real, counts, target, synthesize, seed=1)
    assert list(sets) == list(imbalance.ARMS)
    assert [np.bincount(sets[arm].labels, minlength=3).tolist() for arm in imbalance.ARMS] == [[5, 2, 1], [5, 5, 5],
                                                                                                 [5, 5, 5]]
    chosen = sets["real"].images[:, 0, 0, 0]
    assert set(sets["oversampled"].images[:, 0, 0, 0]) == set(chosen)  # repeats, nothing new
    topped = sets["topped-up"].images[:, 0, 0, 0]
    assert np.array_equal(topped[:8], chosen) and set(topped[8:]) == {255}
    assert np.array_equal(imbalance.training_sets(real, counts, target, synthesize, seed=1)["real"].images,
                          sets["real"].images)


def test_the_real_images_are_the_counts_asked_for_and_a_class_with_fewer_is_named():
    real = pool([9, 6, 5])
    assert imbalance.check_counts(real, ["a", "b", "c"], None) == [9, 6, 5]  # all: what the session trained on
    assert imbalance.check_counts(real, ["a", "b", "c"], [9, 1, 5]) == [9, 1, 5]
    with pytest.raises(UserError, match=r"'b' has 6; 'c' has 5\. Ask for at most that many"):
        imbalance.check_counts(real, ["a", "b", "c"], [9, 7, 6])


# --- the record ----------------------------------------------------------------------------------

def test_the_record_holds_each_arms_scores_and_its_run_by_run_difference_from_real():
    # Classes x (4 real images) and y (1: rare below the target 4); two runs an arm.
    results = [imbalance.ArmResult("real", [4, 1], [np.array([[5, 0], [3, 2]]), np.array([[5, 0], [4, 1]])]),
               imbalance.ArmResult("oversampled", [4, 4], [np.array([[5, 0], [2, 3]]), np.array([[5, 0], [3, 2]])]),
               imbalance.ArmResult("topped-up", [4, 4], [np.array([[4, 1], [1, 4]]), np.array([[5, 0], [2, 3]])])]
    record = imbalance.rows(results, ["x", "y"], [4, 1], 4)
    by = {(row.arm, row.metric): row for row in record}
    assert len(record) == 3 * 5
    assert by["real", "balanced_accuracy"].values == pytest.approx([0.7, 0.6])  # (1 + 0.4) / 2, (1 + 0.2) / 2
    assert by["topped-up", "balanced_accuracy"].values == pytest.approx([0.8, 0.8])
    assert by["topped-up", "balanced_accuracy"].difference == pytest.approx((0.15, np.sqrt(0.005)))  # 0.1, 0.2
    assert by["topped-up", "rare_recall"].values == pytest.approx([0.8, 0.6])  # y's recall
    assert by["topped-up", "rare_recall"].difference == pytest.approx((0.4, 0.0))
    assert by["real", "balanced_accuracy"].difference is None
    assert [by[arm, "recall:y"].train_images for arm in imbalance.ARMS] == [1, 4, 4]
    assert by["oversampled", "macro_f1"].train_images == 8
    # F1 of real's first run: x 10 / (10 + 3), y 4 / (4 + 3).
    assert by["real", "macro_f1"].values[0] == pytest.approx((10 / 13 + 4 / 7) / 2)

    rows = list(csv.DictReader(imbalance.to_csv(record, 10).splitlines()))
    row = next(r for r in rows if (r["arm"], r["metric"]) == ("topped-up", "balanced_accuracy"))
    assert (row["mean"], row["values"], row["test_images"], row["runs"]) == ("0.800000", "0.800000 0.800000", "10", "2")
    assert (row["minus_real_mean"], row["minus_real_std"]) == ("0.150000", f"{np.sqrt(0.005):.6f}")
    assert all(r["minus_real_mean"] == "" for r in rows if r["arm"] == "real")
    markdown = imbalance.to_markdown(record, ["x", "y"], [4, 1], 4, "title")
    assert "| topped-up | 8 | 0.8000 ± 0.0000 |" in markdown
    assert "| topped-up | +0.1500 ± 0.0707 |" in markdown
    assert "| y (rare) | 1 / 4 / 4 | 0.3000 ± 0.1414 |" in markdown and "| x | 4 / 4 / 4 |" in markdown


# --- the counts on the command line --------------------------------------------------------------

def test_real_counts_are_read_in_class_order_as_pairs_or_all():
    names = ["cat", "dog", "red fox"]
    assert evaluate_augmentation.requested_counts(["5", "5", "2"], names) == [5, 5, 2]
    assert evaluate_augmentation.requested_counts(["red fox=2", "cat=5", "dog=4"], names) == [5, 4, 2]
    assert evaluate_augmentation.requested_counts(["all"], names) is None
    for values, message in [(["5", "5"], "got 2 counts, but the session has 3 classes"),
                            (["cat=5", "dog=5", "fox=2"], "The session has no class 'fox'"),
                            (["cat=5", "dog=5"], "no count for red fox"),
                            (["cat=5", "cat=4", "dog=1", "red fox=1"], "names class cat twice"),
                            (["cat=5", "4", "2"], "'4' is not NAME=COUNT"),
                            (["5", "0", "2"], "the count of dog must be a whole number of at least 1, got '0'"),
                            (["cat=5", "dog=many", "red fox=1"], "the count of dog must be a whole number")]:
        with pytest.raises(UserError, match=message) as refused:
            evaluate_augmentation.requested_counts(values, names)
        if "no class" in message:
            assert "0 cat, 1 dog, 2 red fox" in str(refused.value)  # the classes it could name, in order


@pytest.mark.parametrize("args, phrases", [
    (["--real-counts", "5", "2", "--real-per-class", "3"], ["--real-per-class sets the balanced setting",
                                                             "pass one or the other"]),
    (["--real-counts", "5", "2", "--synthetic-per-class", "3"], ["--synthetic-per-class sets the balanced"]),
    (["--top-up-to", "5"], ["pass --real-counts too"]),
    (["--real-counts", "5", "2", "--top-up-to", "0"], ["--top-up-to must be at least 1, got 0"]),
])
def test_setting_mistakes_are_refused_before_anything_is_looked_for(args, phrases, tmp_path, poisoned_tensorflow):
    # No session 1 under tmp_path and no TensorFlow to import: refused before either is looked for.
    result = run_script("evaluate_augmentation.py", "--checkpoint-root", tmp_path, 1, *args,
                        env=poisoned_tensorflow, fresh_interpreter=True)
    assert_refused(result, *phrases)
    assert list(tmp_path.iterdir()) == [tmp_path / "poison"]


# --- the script ----------------------------------------------------------------------------------

@pytest.fixture
def session_with_test_files(conditional_session, tmp_path):
    """(root, number, session folder): a copy of the conditional session (16 images, 2 of classes 0-5
    and 1 of classes 6-9) whose IDX folder also holds t10k files, 3 test images of each class."""
    root, number = conditional_session
    session = tmp_path / "ckpts" / f"training_{number}"
    shutil.copytree(root / f"training_{number}", session)
    config = yaml.safe_load((session / "config.yaml").read_text())
    data = shutil.copytree(config["data_dir"], tmp_path / "idx")
    rng = np.random.default_rng(1)
    write_idx(data, "test", rng.integers(0, 256, (30, 28, 28), dtype=np.uint8), np.arange(30) % 10)
    (session / "config.yaml").write_text(yaml.safe_dump(dict(config, data_dir=str(data))))
    return tmp_path / "ckpts", number, session


@pytest.mark.slow
def test_the_natural_counts_get_three_arms_scored_per_class(session_with_test_files):
    root, number, session = session_with_test_files
    result = run_script("evaluate_augmentation.py", "--checkpoint-root", root, number, "--real-counts", "all", *QUICK)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "16 real training images; test: 30 images" in result.stdout
    assert "real images per class 2 2 2 2 2 2 1 1 1 1, topped up or oversampled to 2" in result.stdout
    assert "| Shirt (rare) | 1 / 2 / 2 |" in result.stdout and "| Trouser | 2 / 2 / 2 |" in result.stdout
    with open(session / "evaluate_augmentation_imbalanced.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    metrics = ["balanced_accuracy", "macro_f1", "rare_recall", *(f"recall:{name}" for name in FASHION)]
    assert [(r["arm"], r["metric"]) for r in rows] == [(arm, m) for arm in imbalance.ARMS for m in metrics]
    images = {(r["arm"], r["metric"]): int(r["train_images"]) for r in rows}
    assert [images[arm, "macro_f1"] for arm in imbalance.ARMS] == [16, 20, 20]
    assert [images[arm, "recall:Bag"] for arm in imbalance.ARMS] == [1, 2, 2]
    for row in rows:
        values = [float(v) for v in row["values"].split()]
        assert len(values) == 2 and all(0.0 <= v <= 1.0 for v in values) and row["test_images"] == "30"
        assert float(row["mean"]) == pytest.approx(np.mean(values), abs=1e-6)
        assert (row["minus_real_mean"] == "") == (row["arm"] == "real")
    assert (session / "evaluate_augmentation_imbalanced.png").read_bytes().startswith(b"\x89PNG")
    assert "Minus real, run by run" in (session / "evaluate_augmentation_imbalanced.md").read_text()
    assert not (session / "evaluate_augmentation.csv").exists()  # the balanced setting's records are apart


@pytest.mark.slow
def test_counts_for_unknown_classes_or_of_the_wrong_number_are_refused_before_anything_loads(
        session_with_test_files, poisoned_tensorflow):
    root, number, _ = session_with_test_files
    before = snapshot(root)
    for counts, phrases in [(["Shoe=3", "Bag=1"], ["has no class 'Shoe'", "0 T-shirt/top, 1 Trouser,"]),
                            (["2", "2", "1"], [f"got 3 counts, but session {number} has 10 classes"]),
                            (["2"] * 10, ["Every class has at least 2 real images", "--top-up-to above 2"])]:
        result = run_script("evaluate_augmentation.py", "--checkpoint-root", root, number, "--real-counts", *counts,
                            *QUICK, env=poisoned_tensorflow, fresh_interpreter=True)
        assert_refused(result, *phrases)
    assert snapshot(root) == before


@pytest.mark.slow
def test_more_real_images_than_a_class_has_is_refused_before_the_networks_load(session_with_test_files):
    root, number, session = session_with_test_files
    before = snapshot(root)
    result = run_script("evaluate_augmentation.py", "--checkpoint-root", root, number, "--real-counts",
                        "2", "2", "2", "2", "2", "2", "2", "1", "1", "3", *QUICK)
    assert_refused(result, "'Shirt' has 1; 'Ankle boot' has 1", "--real-counts all")
    assert "session 4 at epoch" not in result.stdout  # refused before the session's networks were loaded
    assert snapshot(root) == before
