"""evaluate_augmentation.py: the classifier and its accuracy on data whose answer is known, the
records' arithmetic, then the script end to end on tiny sessions, and its refusals."""
import csv
import gzip
import shutil
import struct

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import make_image_folder, run_script, snapshot
from metrics import usefulness
from utils import imaging
from utils.errors import UserError

pytestmark = pytest.mark.slow  # trains sessions and classifiers

CLASSES = ("cat", "dog", "fox")
PER_CLASS = 8  # holdout 0.25 keeps 2 of each class out: 6 real training images per class
# A classifier that trains in about a second: one epoch of 5000 images, and the runs are few.
QUICK = ["--real-per-class", "4", "--synthetic-per-class", "4", "--repeats", "2", "--epochs", "1"]
TINY_GAN = ["--set", "g_filters=8", "--set", "d_filters=8", "--set", "batch_size=4", "--set", "num_examples=9"]
RECORDS = ("evaluate_augmentation.csv", "evaluate_augmentation.md", "evaluate_augmentation.png")


def class_folder(folder):
    for index, name in enumerate(CLASSES):
        make_image_folder(folder / name, count=PER_CLASS, seed=index)
    return folder


def train(root, number, data, *extra):
    result = run_script("DCGAN_train.py", "--checkpoint-root", root, number, 1, "--data", data, *TINY_GAN, *extra)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def conditional(tmp_path_factory):
    """(checkpoint root, session folder): conditional session 1 on three classes, a quarter held out."""
    base = tmp_path_factory.mktemp("evaluate")
    train(base / "ckpts", 1, class_folder(base / "pets"), "--set", "conditional=true", "--set", "holdout=0.25")
    return base / "ckpts", base / "ckpts" / "training_1"


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def refused_leaving_unchanged(folder, phrases, *args):
    """evaluate_augmentation.py ARGS is refused with all the phrases, and nothing under folder changes."""
    before = snapshot(folder)
    assert_refused(run_script("evaluate_augmentation.py", *args), *phrases)
    assert snapshot(folder) == before


def assert_refused(result, *phrases):
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert message.startswith("error: ") and message.count("\n") == 0, message  # one paragraph
    for phrase in phrases:
        assert phrase in message, message


# --- the classifier and the arithmetic --------------------------------------------------------

def bright_and_dark(count, seed):
    """Class 0: images near black, class 1: near white, with pixel noise: separable by any classifier."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count, dtype=np.int32) % 2
    base = np.where(labels == 1, 220, 35)[:, None, None, None]
    images = np.clip(base + rng.integers(-30, 31, (count, 28, 28, 1)), 0, 255).astype(np.uint8)
    return usefulness.LabelledImages(images, labels)


def test_the_classifier_separates_bright_from_dark_and_the_accuracy_counts_right_answers():
    model = usefulness.train_classifier(bright_and_dark(40, seed=0), 2, seed=0, epochs=1, width=4)
    test = bright_and_dark(50, seed=1)
    assert usefulness.accuracy(model, test) == 1.0
    # The same predictions against the opposite labels are all wrong, and against half of them half right.
    assert usefulness.accuracy(model, usefulness.LabelledImages(test.images, 1 - test.labels)) == 0.0
    half = np.where(np.arange(50) < 25, test.labels, 1 - test.labels)
    assert usefulness.accuracy(model, usefulness.LabelledImages(test.images, half)) == 0.5


def test_the_classifier_fits_every_session_size_and_an_epoch_has_a_floor():
    for size, channels in ((28, 1), (32, 3), (64, 3), (128, 1)):
        model = usefulness.build_classifier(size, channels, 5, width=4)
        assert model.output_shape == (None, 5)
    assert usefulness.training_steps(400, 2) == 2 * -(-usefulness.MIN_EPOCH_IMAGES // usefulness.BATCH_SIZE)
    assert usefulness.training_steps(64 * 200, 3) == 600
    order = usefulness.batch_order(10, 5, seed=0)
    assert order.shape == (5, usefulness.BATCH_SIZE)
    assert np.array_equal(np.bincount(order.ravel()), np.full(10, 32))  # every image equally often


def test_the_real_subset_is_balanced_seeded_and_a_short_class_is_named():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 7, np.int32)
    first = usefulness.real_subset(labels, 3, 3, seed=0)
    assert np.array_equal(np.bincount(labels[first]), [3, 3, 3])
    assert np.array_equal(first, usefulness.real_subset(labels, 3, 3, seed=0))
    assert not np.array_equal(first, usefulness.real_subset(labels, 3, 3, seed=1))
    pool = usefulness.LabelledImages(np.zeros((20, 28, 28, 1), np.uint8), labels)
    with pytest.raises(UserError, match=r"'b' has 3; 'c' has 7\. Pass --real-per-class 3 or less"):
        usefulness.check_real_counts(pool, ["a", "b", "c"], 8)


def test_the_records_hold_mean_and_sample_std_and_the_run_by_run_gain():
    results = [usefulness.Result("real", 30, [0.5, 0.7]), usefulness.Result("real+synthetic", 330, [0.6, 0.9]),
               usefulness.Result("synthetic", 300, [0.4, 0.4])]
    rows = list(csv.DictReader(usefulness.to_csv(results, 10, 100, 50).splitlines()))
    assert [r["setting"] for r in rows] == ["real", "real+synthetic", "synthetic"]
    assert float(rows[0]["accuracy_mean"]) == pytest.approx(0.6)
    assert float(rows[0]["accuracy_std"]) == pytest.approx(np.sqrt(0.02), abs=1e-6)  # ((0.1² + 0.1²) / (2 - 1)) ** 0.5
    assert (rows[2]["real_per_class"], rows[2]["synthetic_per_class"], rows[0]["synthetic_per_class"]) == ("0", "100", "0")
    assert usefulness.paired_gain(results) == pytest.approx((0.15, np.sqrt(0.005)))  # gains 0.1 and 0.2
    assert "| real | 30 | 0.6000 ± 0.1414 |" in usefulness.to_markdown(results, "t")
    single = [usefulness.Result(s, 1, [0.5]) for s in usefulness.SETTINGS]
    assert usefulness.to_csv(single, 1, 1, 1).splitlines()[1].split(",")[7] == ""  # no std of one run


def write_idx(folder, split, images, labels):
    images_name, labels_name = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                                "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}[split]
    with gzip.open(folder / images_name, "wb") as f:
        f.write(struct.pack(">IIII", 0x803, len(images), 28, 28) + images.tobytes())
    with gzip.open(folder / labels_name, "wb") as f:
        f.write(struct.pack(">II", 0x801, len(labels)) + labels.astype(np.uint8).tobytes())


def test_an_idx_session_is_tested_on_the_t10k_files_beside_its_own_training_files(tmp_path):
    rng = np.random.default_rng(0)
    write_idx(tmp_path, "train", rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), np.arange(20) % 10)
    cfg = {"dataset": "mnist", "data_dir": str(tmp_path), "image_size": 28, "channels": 1}
    # Without them the loader would fall back to the official files elsewhere: another dataset's test set.
    with pytest.raises(UserError, match="holds no t10k-images-idx3-ubyte.gz"):
        usefulness.held_out_images(cfg)
    test_images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    write_idx(tmp_path, "test", test_images, np.array([3, 1, 4, 1, 5]))
    held, source = usefulness.held_out_images(cfg)
    assert np.array_equal(held.images[..., 0], test_images) and list(held.labels) == [3, 1, 4, 1, 5]
    assert str(tmp_path) in source


# --- the script -------------------------------------------------------------------------------

def test_a_conditional_session_gets_three_settings_tested_on_its_held_out_images(conditional):
    root, session = conditional
    result = run_script("evaluate_augmentation.py", "--checkpoint-root", root, 1, *QUICK)
    assert result.returncode == 0, result.stdout + result.stderr
    # 2 of each class's 8 held out, and none of them among the 18 the real subsets are drawn from.
    assert "18 real training images; test: 6 images, the held-out 0.25 of" in result.stdout
    rows = read_rows(session / RECORDS[0])
    assert [r["setting"] for r in rows] == ["real", "real+synthetic", "synthetic"]
    assert [r["train_images"] for r in rows] == ["12", "24", "12"]  # 4 real, 4 + 4, 4 generated of 3 classes
    for row in rows:
        accuracies = [float(a) for a in row["accuracies"].split()]
        assert len(accuracies) == 2 and all(0.0 <= a <= 1.0 for a in accuracies)
        assert float(row["accuracy_mean"]) == pytest.approx(np.mean(accuracies), abs=1e-6)
        assert row["test_images"] == "6"
    markdown = (session / RECORDS[1]).read_text()
    assert markdown.count("\n| real") == 2 and "| synthetic |" in markdown and "run by run" in markdown
    with Image.open(session / RECORDS[2]) as plot:
        assert plot.format == "PNG" and plot.size[0] > 100
    expected_mode = 0o666 & ~imaging._umask()
    assert all((session / name).stat().st_mode & 0o777 == expected_mode for name in RECORDS)
    assert not list(session.glob(".*partial*"))


def test_unconditional_sessions_one_per_class_are_evaluated_with_their_folder_names(tmp_path):
    root = tmp_path / "ckpts"
    for number, name in ((1, "cat"), (2, "dog")):
        train(root, number, make_image_folder(tmp_path / name, count=PER_CLASS, seed=number), "--set", "holdout=0.25")
    result = run_script("evaluate_augmentation.py", "--checkpoint-root", root, "--sessions", 1, 2, *QUICK,
                        "--repeats", 1)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 classes (cat, dog); 12 real training images; test: 4 images" in result.stdout
    rows = read_rows(root / "evaluate_augmentation_1_2.csv")
    assert [r["train_images"] for r in rows] == ["8", "16", "8"]
    assert all(0.0 <= float(r["accuracy_mean"]) <= 1.0 and r["accuracy_std"] == "" for r in rows)
    assert (root / "evaluate_augmentation_1_2.png").is_file()
    # Imbalanced: 'dog' is rare, its session alone generates (none of 'cat', which is at the target).
    result = run_script("evaluate_augmentation.py", "--checkpoint-root", root, "--sessions", 1, 2, "--real-counts",
                        "dog=2", "cat=6", "--repeats", 1, "--epochs", 1)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = read_rows(root / "evaluate_augmentation_imbalanced_1_2.csv")
    counts = {(r["arm"], r["metric"]): r["train_images"] for r in rows if r["metric"].startswith("recall:")}
    assert counts == {("real", "recall:cat"): "6", ("real", "recall:dog"): "2", ("oversampled", "recall:cat"): "6",
                      ("oversampled", "recall:dog"): "6", ("topped-up", "recall:cat"): "6",
                      ("topped-up", "recall:dog"): "6"}


def test_a_folder_session_without_held_out_images_is_refused_with_how_to_train_one(conditional, tmp_path):
    root, session = conditional
    # The same session as if trained with holdout 0: the refusal reads only the stored config.
    copy = tmp_path / "ckpts" / "training_2"
    shutil.copytree(session, copy, ignore=shutil.ignore_patterns("evaluate_augmentation*"))
    config = yaml.safe_load((copy / "config.yaml").read_text())
    (copy / "config.yaml").write_text(yaml.safe_dump(dict(config, holdout=0.0)))
    refused_leaving_unchanged(tmp_path, ["holdout 0", "--set holdout=0.1", "new session"],
                              "--checkpoint-root", tmp_path / "ckpts", 2, *QUICK)


def test_an_unconditional_session_alone_is_refused_pointing_to_sessions(gray_session):
    root, number = gray_session
    refused_leaving_unchanged(root, ["unconditional", "no labels", "--sessions"],
                              "--checkpoint-root", root, number, *QUICK)


def test_more_real_images_per_class_than_a_class_has_is_refused_naming_the_classes(conditional):
    root, session = conditional
    refused_leaving_unchanged(session, ["'cat' has 6; 'dog' has 6; 'fox' has 6", "--real-per-class 6 or less"],
                              "--checkpoint-root", root, 1, *QUICK, "--real-per-class", 7)


def test_a_class_missing_from_the_test_images_is_refused(conditional):
    root, session = conditional
    refused_leaving_unchanged(session, ["no image of the class", "--test-num"],
                              "--checkpoint-root", root, 1, *QUICK, "--test-num", 2)


@pytest.mark.parametrize("option", ["--real-per-class", "--synthetic-per-class", "--repeats", "--epochs"])
def test_counts_below_one_are_refused_before_anything_is_loaded(option, tmp_path, poisoned_tensorflow):
    # No session 1 under tmp_path and no TensorFlow to import: the count is refused before either is looked for.
    result = run_script("evaluate_augmentation.py", "--checkpoint-root", tmp_path, 1, option, 0,
                        env=poisoned_tensorflow, fresh_interpreter=True)
    assert_refused(result, f"{option} must be at least 1, got 0")


def test_neither_or_both_forms_of_the_command_are_refused(tmp_path):
    assert_refused(run_script("evaluate_augmentation.py", "--checkpoint-root", tmp_path), "not neither")
    assert_refused(run_script("evaluate_augmentation.py", "--checkpoint-root", tmp_path, 1, "--sessions", 2, 3),
                   "not both")
