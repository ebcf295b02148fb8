"""class_counts: at most that many training images of each class of a conditional session, a
seeded subset of the training split, seen alike by training and by every metric of the session's
training images; refused for an unconditional session or a list of another length."""
import json

import numpy as np
import pytest
from PIL import Image

from conftest import TINY, run_script, write_idx
from data import datasets, idx, labels as labels_lib
from training import config, plan
from utils.errors import UserError

FASHION_COUNTS = [5, 5, 5, 5, 5, 5, 5, 2, 2, 0]


def numbered_idx(folder, count=200):
    """Fashion-MNIST IDX files of `count` images; image i is all pixel value i and has label i % 10,
    so every kept image can be traced back to its index and its label checked against it."""
    write_idx(folder, np.repeat(np.arange(count, dtype=np.uint8), 28 * 28).reshape(count, 28, 28),
              np.arange(count) % 10)
    return folder


def idx_config(folder, **overrides):
    return config.load_config(overrides=dict(dict(data_dir=str(folder), conditional=True, class_counts=FASHION_COUNTS),
                                             **overrides))


def class_folder(folder, counts=(6, 4, 5)):
    """An image folder with one subfolder per class (a, b, c), `counts` images each; image j of class k
    is all pixel value 50 * k + j, so kept images can be traced back."""
    for k, count in enumerate(counts):
        (folder / "abc"[k]).mkdir(parents=True)
        for j in range(count):
            Image.fromarray(np.full((16, 16), 50 * k + j, np.uint8)).save(folder / "abc"[k] / f"{j}.png")
    return folder


def folder_config(folder, tmp_path, **overrides):
    values = dict(dataset="folder", data_dir=str(folder), image_size=28, conditional=True, class_counts=[2, 0, 1],
                  cache_dir=str(tmp_path / "cache"))
    return config.load_config(overrides=dict(values, **overrides))


def pixel_ids(loaded):
    return np.asarray(loaded.images)[:, 0, 0, 0].tolist()


# The subset itself

def test_the_subset_keeps_the_requested_count_of_each_class_and_all_of_a_class_at_zero():
    labels = np.repeat(np.arange(4), [10, 7, 3, 5])
    kept = labels_lib.class_subset(labels, [4, 0, 5, 2], seed=1)
    assert np.bincount(labels[kept], minlength=4).tolist() == [4, 7, 3, 2]  # 0: all 7; 5 of 3: all 3
    assert kept.tolist() == sorted(set(kept.tolist()))  # sorted, each row once


def test_the_subset_is_a_function_of_the_seed():
    labels = np.arange(300) % 3
    first = labels_lib.class_subset(labels, [10, 10, 10], seed=1)
    np.testing.assert_array_equal(first, labels_lib.class_subset(labels, [10, 10, 10], seed=1))
    assert first.tolist() != labels_lib.class_subset(labels, [10, 10, 10], seed=2).tolist()


# Through the loader: IDX files and class folders

def test_fashion_mnist_files_give_the_requested_counts_reproducibly(tmp_path):
    cfg = idx_config(numbered_idx(tmp_path / "idx"))
    loaded = datasets.load_training_images(cfg)
    assert np.bincount(loaded.labels, minlength=10).tolist() == [5, 5, 5, 5, 5, 5, 5, 2, 2, 20]
    np.testing.assert_array_equal(loaded.labels, np.array(pixel_ids(loaded)) % 10)  # labels stay with their images
    assert pixel_ids(datasets.load_training_images(cfg)) == pixel_ids(loaded)
    assert pixel_ids(datasets.load_training_images(dict(cfg, seed=2))) != pixel_ids(loaded)
    assert len(datasets.load_training_images(dict(cfg, class_counts=[])).images) == 200


def test_class_folders_give_the_requested_counts_of_the_training_split(tmp_path):
    cfg = folder_config(class_folder(tmp_path / "abc"), tmp_path, holdout=0.25)
    held = set(pixel_ids(datasets.load_training_images(cfg, split="holdout")))
    whole_train = set(pixel_ids(datasets.load_training_images(dict(cfg, class_counts=[]))))
    loaded = datasets.load_training_images(cfg)
    # holdout 0.25 of (6, 4, 5) leaves (4, 3, 4) to train on; the cap applies to those.
    assert np.bincount(loaded.labels, minlength=3).tolist() == [2, 3, 1]
    assert set(pixel_ids(loaded)) <= whole_train and not set(pixel_ids(loaded)) & held
    np.testing.assert_array_equal(np.array(pixel_ids(loaded)) // 50, loaded.labels)
    assert len(held) == len(datasets.load_training_images(dict(cfg, class_counts=[]), split="holdout").images)


# What the metrics read as the session's training images

def test_the_metrics_see_the_same_subset_and_key_it_only_when_set(tmp_path):
    from metrics import classes, sources, usefulness
    cfg = idx_config(numbered_idx(tmp_path / "idx"), class_names=list(idx.FASHION_MNIST_CLASSES))
    trained_on = pixel_ids(datasets.load_training_images(cfg))
    assert len(trained_on) == 7 * 5 + 2 + 2 + 20
    assert pixel_ids(classes.training_set(cfg)) == trained_on
    real, _ = usefulness.training_images(cfg)
    assert np.asarray(real.images)[:, 0, 0, 0].tolist() == trained_on
    source = sources.training_source(cfg, num=0)
    assert sorted(pixel_ids(source.load())) == sorted(trained_on)
    assert source.key["class_counts"] == FASHION_COUNTS
    assert "class_counts" not in sources.training_source(dict(cfg, class_counts=[]), num=0).key
    per_class = sources.training_source(cfg, num=0, class_index=7)
    assert sorted(pixel_ids(per_class.load())) == sorted(i for i in trained_on if i % 10 == 7)


# Refusals

def test_an_unconditional_session_is_refused(tmp_path):
    with pytest.raises(UserError, match="needs the classes of a conditional session") as error:
        config.load_config(overrides={"class_counts": [5, 5]})
    assert "conditional: true" in str(error.value) and "drop class_counts" in str(error.value)


@pytest.mark.parametrize("value", [[5, -1], "5,5", [1.5, 2], [True, 3], 5])
def test_bad_lists_are_refused_by_name(value):
    with pytest.raises(UserError, match="'class_counts'"):
        config.load_config(overrides={"class_counts": value, "conditional": True})


def test_the_set_option_reads_a_list():
    overrides = config.parse_overrides(["class_counts=[500,500,500,500,500,500,500,25,25,25]", "conditional=true"])
    assert config.load_config(overrides=overrides)["class_counts"] == [500] * 7 + [25] * 3


def test_a_list_of_another_length_is_refused_before_training_and_by_the_loader(tmp_path):
    with pytest.raises(UserError, match=r"class_counts lists 3 numbers, but the data has 10 classes") as error:
        plan.plan(tmp_path / "ckpts", 1, 2, overrides={"conditional": True, "class_counts": [1, 2, 3]})
    assert "T-shirt/top" in str(error.value) and not (tmp_path / "ckpts").exists()
    cfg = folder_config(class_folder(tmp_path / "abc"), tmp_path, class_counts=[1, 1])
    with pytest.raises(UserError, match="class_counts lists 2 numbers, but the data has 3 classes"):
        datasets.load_training_images(cfg)


@pytest.mark.slow
def test_training_fashion_mnist_files_with_class_counts(tmp_path):
    result = run_script("DCGAN_train.py", "--checkpoint-root", tmp_path / "ckpts", 1, 1,
                        "--data", numbered_idx(tmp_path / "idx"), *TINY, "--set", "conditional=true",
                        "--set", "class_counts=[4,4,4,4,4,4,4,2,2,2]")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Session 1: 34 images" in result.stdout
    events = [json.loads(line) for line in (tmp_path / "ckpts" / "training_1" / "events.jsonl").read_text().splitlines()]
    assert [e["images"] for e in events if e["event"] == "start"] == [34]
    refused = run_script("DCGAN_train.py", "--checkpoint-root", tmp_path / "ckpts", 2, 1, "--data", tmp_path / "idx",
                         *TINY, "--set", "class_counts=[4,4]")
    assert refused.returncode != 0 and "conditional" in refused.stdout + refused.stderr
