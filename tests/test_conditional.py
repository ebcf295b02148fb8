"""Class-conditional training's lower layers: labels of IDX files and class folders, labels through
the cache and the epoch pipeline, and the conditional networks against hand computations."""
import gzip
import json
import struct

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from conftest import make_image_folder
import models
from data import cache, datasets, decode, idx, labels as labels_lib, pipeline
from utils.errors import UserError

SMALL = dict(noise_dim=16, g_filters=4, d_filters=4, d_batchnorm=True, d_dropout=0.3, init_std=0.02, seed=3,
             noise="normal", image_size=28, channels=1)


# IDX labels

def write_gzip(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(data)


def write_idx_split(folder, images, labels, split="train", label_bytes=None):
    """The IDX images and labels files of a split, as the MNIST distribution names them."""
    images_file, labels_file = idx.IDX_SPLITS[split]
    write_gzip(folder / images_file, struct.pack(">IIII", 0x803, len(images), *images.shape[1:]) + images.tobytes())
    if labels is not None:
        write_gzip(folder / labels_file, label_bytes or struct.pack(">II", 0x801, len(labels)) +
                   np.asarray(labels, np.uint8).tobytes())


def numbered_images(count):
    """Image i has every pixel equal to i, so a label can be checked against the image it came with."""
    return np.repeat(np.arange(count, dtype=np.uint8), 28 * 28).reshape(count, 28, 28)


def test_idx_labels_are_read_beside_the_images_of_each_split(tmp_path):
    write_idx_split(tmp_path / "idx", numbered_images(5), [3, 1, 4, 1, 5])
    write_idx_split(tmp_path / "idx", numbered_images(3), [9, 2, 6], split="test")
    images, labels, source = idx.load_idx("fashion_mnist", tmp_path / "idx", download=None, labelled=True)
    assert images.shape == (5, 28, 28) and labels.dtype == np.int32 and labels.tolist() == [3, 1, 4, 1, 5]
    assert source == str(tmp_path / "idx")
    images, labels, _ = idx.load_idx("fashion_mnist", tmp_path / "idx", split="test", download=None, labelled=True)
    assert len(images) == 3 and labels.tolist() == [9, 2, 6]


def test_labels_come_from_the_folder_whose_images_were_found(tmp_path, monkeypatch):
    write_gzip(tmp_path / "first" / "train-labels-idx1-ubyte.gz", struct.pack(">II", 0x801, 2) + bytes([7, 7]))
    write_idx_split(tmp_path / "second", numbered_images(2), [0, 1])
    monkeypatch.setitem(idx.IDX_DIRS, "mnist", [tmp_path / "first", tmp_path / "second"])
    _, labels, source = idx.load_idx("mnist", download=None, labelled=True)
    assert labels.tolist() == [0, 1] and source == str(tmp_path / "second")


def test_the_keras_download_brings_labels_of_the_requested_split(tmp_path, monkeypatch):
    monkeypatch.setitem(idx.IDX_DIRS, "mnist", [tmp_path / "nowhere"])
    asked = []

    def download(name, split):
        asked.append((name, split))
        return numbered_images(2), np.array([[4], [2]], np.uint8)  # Keras' shape and dtype may differ

    images, labels, source = idx.load_idx("mnist", split="test", download=download, labelled=True)
    assert asked == [("mnist", "test")] and source == "Keras download"
    assert labels.dtype == np.int32 and labels.tolist() == [4, 2]


@pytest.mark.parametrize("content, message", [
    (struct.pack(">II", 0x803, 2) + bytes([1, 2]), "not an IDX label file"),  # an images file's magic
    (struct.pack(">II", 0x801, 3) + bytes([1, 2]), "not an IDX label file"),  # shorter than its header says
    (b"\x08", "not an IDX label file"),
])
def test_a_bad_label_file_is_named(tmp_path, content, message):
    write_idx_split(tmp_path / "d", numbered_images(2), [0, 1], label_bytes=content)
    with pytest.raises(UserError, match=message) as error:
        idx.load_idx("mnist", tmp_path / "d", download=None, labelled=True)
    assert "train-labels-idx1-ubyte.gz" in str(error.value)


def test_a_label_file_that_is_not_gzip_is_a_user_error(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(struct.pack(">II", 0x801, 1) + bytes([0]))  # right content, not compressed
    with pytest.raises(UserError, match="cannot be read as a gzip file"):
        idx.read_idx_labels(path)


def test_missing_or_mismatched_labels_are_refused_with_the_fix(tmp_path):
    write_idx_split(tmp_path / "none", numbered_images(2), None)
    with pytest.raises(UserError, match="but not train-labels-idx1-ubyte.gz") as error:
        idx.load_idx("mnist", tmp_path / "none", download=None, labelled=True)
    assert f"into {tmp_path / 'none'}" in str(error.value)
    write_idx_split(tmp_path / "short", numbered_images(3), [0, 1])
    with pytest.raises(UserError, match="2 labels but its images file holds 3 images"):
        idx.load_idx("mnist", tmp_path / "short", download=None, labelled=True)
    write_idx_split(tmp_path / "range", numbered_images(2), [0, 10])
    with pytest.raises(UserError, match="label 10, but the dataset has 10 classes"):
        idx.load_idx("mnist", tmp_path / "range", download=None, labelled=True)


def test_conditional_config_loads_idx_labels_subset_with_their_images(tmp_path, monkeypatch):
    images = numbered_images(30)
    write_idx_split(tmp_path / "idx", images, np.arange(30) % 10)
    monkeypatch.setitem(idx.IDX_DIRS, "fashion_mnist", [])
    cfg = dict(image_size=28, channels=1, dataset="fashion_mnist", data_dir=str(tmp_path / "idx"), max_images=12,
               seed=4, cache_dir=None, conditional=True)
    loaded = datasets.load_training_images(cfg)
    assert loaded.images.shape == (12, 28, 28, 1) and loaded.labels.shape == (12,)
    assert len(set(loaded.images[:, 0, 0, 0])) == 12  # a subset, not the first twelve repeated
    np.testing.assert_array_equal(loaded.labels, loaded.images[:, 0, 0, 0] % 10)
    assert loaded.class_names[0] == "T-shirt/top" and loaded.class_names[9] == "Ankle boot"
    unconditional = datasets.load_training_images(dict(cfg, conditional=False))
    assert unconditional.labels is None and unconditional.class_names is None
    np.testing.assert_array_equal(unconditional.images, loaded.images)


# Class folders

def _solid(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((20, 20), value, np.uint8)).save(path)


@pytest.fixture
def class_folder(tmp_path):
    """Three classes (one image nested deeper), a hidden folder, a README at the top; the pixel
    value of an image is 40 times its class index."""
    folder = tmp_path / "pets"
    for name, value, count in [("dog", 80, 2), ("Cat", 0, 3), ("bird", 40, 1)]:  # sorted: Cat, bird, dog
        for i in range(count):
            _solid(folder / name / f"{i}.png", value)
    _solid(folder / "dog" / "puppies" / "p.png", 80)
    _solid(folder / ".thumbnails" / "t.png", 200)
    (folder / "README.txt").write_text("one folder per class\n")
    return folder


def test_class_names_are_the_sorted_subfolders_and_labels_their_index(class_folder, tmp_path):
    loaded = datasets.load_folder(class_folder, 16, 1, cache_dir=tmp_path / "cache", conditional=True)
    assert loaded.class_names == ["Cat", "bird", "dog"]
    assert loaded.labels.dtype == np.int32 and loaded.labels.tolist() == [0, 0, 0, 1, 2, 2, 2]
    np.testing.assert_array_equal(np.asarray(loaded.images)[:, 0, 0, 0], 40 * loaded.labels)
    assert loaded.skipped_per_class() == {"Cat": 0, "bird": 0, "dog": 0, None: 1}  # the README


def test_an_unconditional_load_of_a_class_folder_is_unchanged(class_folder, tmp_path):
    loaded = datasets.load_folder(class_folder, 16, 1, cache_dir=tmp_path / "cache")
    assert len(loaded.images) == 7 and loaded.labels is None and loaded.class_names is None
    assert loaded.skipped_per_class() is None


def test_an_image_directly_in_the_top_folder_is_refused_before_decoding(class_folder, tmp_path, monkeypatch):
    _solid(class_folder / "stray.png", 0)
    monkeypatch.setattr(decode, "_try_decode", lambda *args: pytest.fail("decoded a folder it refuses"))
    with pytest.raises(UserError, match="1 images lie directly in") as error:
        datasets.load_folder(class_folder, 16, 1, cache_dir=tmp_path / "cache", conditional=True)
    assert "stray.png" in str(error.value) and "Move each into the subfolder of its class" in str(error.value)


def test_a_class_folder_without_images_is_refused(class_folder, tmp_path):
    (class_folder / "fish").mkdir()
    (class_folder / "fish" / "notes.txt").write_text("to do\n")
    with pytest.raises(UserError, match="Class folders without an image file .*: fish"):
        datasets.load_folder(class_folder, 16, 1, cache_dir=tmp_path / "cache", conditional=True)


def test_a_class_whose_files_are_all_unusable_is_refused_and_leaves_no_entry(class_folder, tmp_path):
    (class_folder / "bird" / "0.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="No usable image in the class folders bird"):
        datasets.load_folder(class_folder, 16, 1, cache_dir=tmp_path / "cache", conditional=True)
    assert not list((tmp_path / "cache" / "images").iterdir())


@pytest.mark.parametrize("classes", [[], ["only"]])
def test_fewer_than_two_classes_are_refused(tmp_path, classes):
    (tmp_path / "one").mkdir()
    for name in classes:
        _solid(tmp_path / "one" / name / "a.png", 0)
    with pytest.raises(UserError, match="at least two classes"):
        datasets.load_folder(tmp_path / "one", 16, 1, cache_dir=tmp_path / "cache", conditional=True)


def test_skipped_files_are_counted_per_class(class_folder, tmp_path):
    (class_folder / "Cat" / "broken.png").write_bytes(b"not a png")
    (class_folder / "Cat" / "truncated.jpg").write_bytes(b"\xff\xd8\xff")
    (class_folder / "dog" / "puppies" / ".hidden.png").write_bytes(b"")
    loaded = datasets.load_folder(class_folder, 16, 1, cache_dir=tmp_path / "cache", conditional=True)
    assert loaded.skipped_per_class() == {"Cat": 2, "bird": 0, "dog": 1, None: 1}
    assert loaded.labels.tolist() == [0, 0, 0, 1, 2, 2, 2]  # the broken files took no label with them


def test_labels_survive_the_cache_and_the_max_images_subset(class_folder, tmp_path, monkeypatch, capsys):
    (class_folder / "Cat" / "broken.png").write_bytes(b"not a png")
    first = datasets.load_folder(class_folder, 16, 1, max_images=6, seed=2, cache_dir=tmp_path / "cache",
                                 conditional=True)
    assert "Decoding 6 images" in capsys.readouterr().out
    monkeypatch.setattr(decode, "_try_decode", lambda *args: pytest.fail("decoded again"))
    second = datasets.load_folder(class_folder, 16, 1, max_images=6, seed=2, cache_dir=tmp_path / "cache",
                                  conditional=True)
    assert "Decoding" not in capsys.readouterr().out
    assert len(second.images) == len(second.labels) == len(first.labels)
    np.testing.assert_array_equal(second.labels, first.labels)
    np.testing.assert_array_equal(np.asarray(second.images)[:, 0, 0, 0], 40 * second.labels)
    assert second.skipped == first.skipped


def test_labelled_and_unlabelled_entries_have_their_own_keys(class_folder, tmp_path, capsys):
    datasets.load_folder(class_folder, 16, 1, cache_dir=tmp_path / "cache")
    loaded = datasets.load_folder(class_folder, 16, 1, cache_dir=tmp_path / "cache", conditional=True)
    assert capsys.readouterr().out.count("Decoding") == 2  # the unlabelled entry was not read as labelled
    assert loaded.labels.tolist() == [0, 0, 0, 1, 2, 2, 2]
    metas = [json.loads(p.read_text()) for p in (tmp_path / "cache" / "images").glob("*.json")]
    assert sorted("labels" in meta for meta in metas) == [False, True]


def test_cache_keeps_the_labels_of_the_decoded_rows_only(tmp_path):
    rows = np.arange(4 * 2 * 2, dtype=np.uint8).reshape(4, 2, 2, 1)
    decoded = [("a", (rows[0], None)), ("b", (None, "broken")), ("c", (rows[2], None)), ("d", (rows[3], None))]
    images, skipped, labels = cache.build(tmp_path, "k", iter(decoded), 2, 1, labels=np.array([5, 6, 7, 8]))
    assert labels.dtype == np.int32 and labels.tolist() == [5, 7, 8] and skipped == [("b", "broken")]
    assert np.array_equal(np.asarray(images), rows[[0, 2, 3]])
    assert cache.load(tmp_path, "k", labelled=True)[2].tolist() == [5, 7, 8]
    cache.build(tmp_path, "u", iter(decoded), 2, 1)
    assert cache.load(tmp_path, "u", labelled=True) is None  # an entry without labels is rebuilt, not misread


def test_class_frequencies_are_shares_of_the_labels():
    freq = labels_lib.class_frequencies(np.array([0, 2, 2, 2], np.int32), 4)
    assert freq.dtype == np.float32 and freq.tolist() == [0.25, 0.0, 0.75, 0.0]
    with pytest.raises(ValueError):
        labels_lib.class_frequencies(np.array([0, 4]), 4)


# Pipeline

def test_labels_travel_with_their_images_in_the_unconditional_order():
    images = np.arange(20, dtype=np.uint8).reshape(20, 1, 1, 1)
    images = np.concatenate([images, 255 - images], axis=2)  # (20, 1, 2, 1): a flip swaps the two pixels
    labels = (np.arange(20) * 7 % 5).astype(np.int32)

    def epoch(seed, epoch_number, with_labels):
        return list(pipeline.epoch_batches(images, 4, seed, epoch_number, True, labels if with_labels else None))

    labelled = epoch(1, 3, True)
    assert len(labelled) == 5
    for (batch, batch_labels), plain in zip(labelled, epoch(1, 3, False)):
        np.testing.assert_array_equal(batch, plain)  # same order and same flips as without labels
        index = np.minimum(batch[:, 0, 0, 0], batch[:, 0, 1, 0])  # the image's number, flipped or not
        np.testing.assert_array_equal(batch_labels, labels[index])
    assert any((batch[:, 0, 0, 0] > 127).any() for batch, _ in labelled)  # some images were flipped
    again = epoch(1, 3, True)
    assert all(np.array_equal(a[1], b[1]) and np.array_equal(a[0], b[0]) for a, b in zip(labelled, again))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(labelled, epoch(1, 4, True)))


def test_worker_pipelines_share_out_labels_with_their_images():
    images = np.arange(40, dtype=np.uint8).reshape(40, 1, 1, 1)
    labels = (np.arange(40) % 3).astype(np.int32)
    whole = list(pipeline.epoch_batches(images, 8, 3, 1, False, labels))
    shares = [list(pipeline.epoch_dataset(images, 8, 3, 1, False, worker, 2, 2, labels=labels)) for worker in range(2)]
    assert shares[0][0][0].dtype == tf.float32 and shares[0][0][1].dtype == tf.int32
    for i, (batch, batch_labels) in enumerate(whole):
        pieces = [shares[0][2 * i], shares[0][2 * i + 1], shares[1][2 * i], shares[1][2 * i + 1]]
        np.testing.assert_array_equal(np.concatenate([p[0].numpy() for p in pieces]),
                                      (batch / 127.5 - 1).astype(np.float32))
        np.testing.assert_array_equal(np.concatenate([p[1].numpy() for p in pieces]), batch_labels)


def test_class_balanced_epochs_draw_every_class_equally_often_and_labels_travel_with_their_images():
    images = np.arange(100, dtype=np.uint8).reshape(100, 1, 1, 1)  # each image holds its own index
    images = np.concatenate([images, 255 - images], axis=2)  # a flip swaps the two pixels
    labels = (np.arange(100) >= 90).astype(np.int32)  # 90 of class 0, 10 of class 1

    def epoch(epoch_number, class_balanced):
        return list(pipeline.epoch_batches(images, 10, 2, epoch_number, True, labels, class_balanced))

    balanced = [pair for number in range(1, 6) for pair in epoch(number, True)]
    drawn = np.concatenate([batch_labels for _, batch_labels in balanced])
    assert 0.4 < drawn.mean() < 0.6  # the rare class is half of what the discriminator sees
    assert np.concatenate([batch_labels for _, batch_labels in epoch(1, False)]).sum() == 10  # each image once
    for batch, batch_labels in balanced:
        index = np.minimum(batch[:, 0, 0, 0], batch[:, 0, 1, 0])
        np.testing.assert_array_equal(batch_labels, labels[index])
    rare = np.concatenate([batch for batch, _ in balanced])[drawn == 1]
    assert len(np.unique(np.minimum(rare[:, 0, 0, 0], rare[:, 0, 1, 0]))) == 10  # all of them, repeated
    assert (rare[:, 0, 0, 0] > 127).any() and (rare[:, 0, 0, 0] < 128).any()  # repeats flipped and not
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(epoch(3, True), epoch(3, True)))  # a pure function


@pytest.mark.slow  # trains two sessions
def test_the_training_loop_draws_real_batches_as_real_classes_says(tmp_path, monkeypatch):
    from data import pipeline as pipeline_module
    from data.datasets import load_training_images
    from training import loop
    from training import plan as training_plan
    for name, count in (("cat", 30), ("dog", 6)):
        make_image_folder(tmp_path / "pets" / name, count=count, size=(8, 8), seed=count)
    real_epoch_batches = pipeline_module.epoch_batches
    drawn = {}

    for draw in ("data", "uniform"):
        def spy(*args, **kwargs):
            for batch, batch_labels in real_epoch_batches(*args, **kwargs):
                drawn.setdefault(draw, []).extend(batch_labels)
                yield batch, batch_labels

        monkeypatch.setattr(pipeline_module, "epoch_batches", spy)
        plan = training_plan.plan(tmp_path / draw, 1, 1, overrides=dict(
            dataset="folder", data_dir=str(tmp_path / "pets"), conditional=True, real_classes=draw, image_size=28,
            g_filters=4, d_filters=4, batch_size=12, precision="float32", cache_dir=str(tmp_path / "cache")))
        assert loop.run(plan, loop.build_state(plan), load_training_images(plan.cfg)) == 0
    dog = 1  # class folders in sorted order
    assert len(drawn["data"]) == len(drawn["uniform"]) == 36
    assert drawn["data"].count(dog) == 6  # every image once
    assert drawn["uniform"].count(dog) >= 12  # about half; 6 would be the data's share


def test_real_classes_uniform_without_classes_is_refused():
    from training import config
    with pytest.raises(UserError, match="real_classes: uniform .* needs conditional: true"):
        config.load_config(overrides=dict(real_classes="uniform"))


# Networks

def _fingerprint(model, inputs):
    """Layer types, the sum of each kernel and embedding, the sum of squares of all weights, and the
    output's sum and absolute sum on fixed inputs: equal fingerprints mean the same network."""
    weights = [w.astype(np.float64) for w in model.get_weights()]
    out = model(inputs, training=False).numpy().astype(np.float64)
    return ([type(layer).__name__ for layer in model.layers], [float(w.sum()) for w in weights if w.ndim > 1],
            float(sum(np.square(w).sum() for w in weights)), float(out.sum()), float(np.abs(out).sum()))


# Recorded from build_generator and build_discriminator before they were split into trunks: the
# refactoring must keep every layer, every initializer seed and so every weight. (TensorFlow's
# stateless random numbers are the same on every platform.)
BEFORE_THE_TRUNKS = {
    (28, 1, "G"): (['Dense', 'BatchNormalization', 'ReLU', 'Reshape', 'Conv2DTranspose', 'BatchNormalization', 'ReLU',
                    'Conv2DTranspose'], [-0.2794863847129818, 0.38576422872938565, 0.07018332681036554],
                   794.9017855148314, 0.10785815358184436, 0.5467753768328407),
    (28, 1, "D"): (['Conv2D', 'LeakyReLU', 'Dropout', 'Conv2D', 'BatchNormalization', 'LeakyReLU', 'Dropout',
                    'Flatten', 'Dense'], [-0.20784989956882782, 0.38576422872938565, 0.28380204575660173],
                   16.540353005075293, -0.0034783066366799176, 0.0047694199602119625),
    (64, 3, "G"): (['Dense', 'BatchNormalization', 'ReLU', 'Reshape', 'Conv2DTranspose', 'BatchNormalization', 'ReLU',
                    'Conv2DTranspose', 'BatchNormalization', 'ReLU', 'Conv2DTranspose', 'BatchNormalization', 'ReLU',
                    'Conv2DTranspose'],
                   [-0.7080057959492478, -5.4296370032946015, 1.0581839043516084, 0.16510989399102982,
                    0.1626988513598917], 1090.113943313922, 0.015723015478292746, 0.1704533740679089),
    (64, 3, "D"): (['Conv2D', 'LeakyReLU', 'Dropout', 'Conv2D', 'BatchNormalization', 'LeakyReLU', 'Dropout',
                    'Conv2D', 'BatchNormalization', 'LeakyReLU', 'Dropout', 'Conv2D', 'BatchNormalization',
                    'LeakyReLU', 'Dropout', 'Flatten', 'Dense'],
                   [-0.011591499616770307, 0.38576422872938565, 1.0581839043516084, 2.995753858406033,
                    0.18160034724860452], 119.08928942301492, -0.00018235290190204978, 0.00018235290190204978),
}


@pytest.mark.parametrize("size, channels", [(28, 1), (64, 3)])
def test_unconditional_builders_are_the_networks_they_were_before_the_trunks(size, channels):
    cfg = dict(SMALL, image_size=size, channels=channels)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2, 16)).astype(np.float32)
    x = rng.uniform(-1, 1, (2, size, size, channels)).astype(np.float32)
    for kind, model, inputs in [("G", models.build_generator(cfg), z), ("D", models.build_discriminator(cfg), x)]:
        layer_types, kernel_sums, squares, out_sum, out_abs = _fingerprint(model, inputs)
        expected = BEFORE_THE_TRUNKS[(size, channels, kind)]
        assert layer_types == expected[0]
        np.testing.assert_allclose(kernel_sums, expected[1], rtol=1e-5)
        np.testing.assert_allclose([squares, out_sum, out_abs], expected[2:], rtol=1e-4, atol=1e-7)


def _known_head(discriminator, num_classes, rng):
    """Set the logit Dense and the class embeddings to known values; return (w, b, E)."""
    dense, embedding = discriminator.get_layer("logit"), discriminator.get_layer("class_projection")
    width = dense.kernel.shape[0]
    w, b = rng.normal(size=(width, 1)), np.array([0.3])
    table = rng.normal(size=(num_classes, width))
    dense.set_weights([w.astype(np.float32), b.astype(np.float32)])
    embedding.set_weights([table.astype(np.float32)])
    return w.astype(np.float32), b.astype(np.float32), table.astype(np.float32)


@pytest.mark.parametrize("mixed_precision", [False, True])
def test_projection_logit_is_dense_plus_the_class_embedding_inner_product(mixed_precision):
    cfg = dict(SMALL, mixed_precision=mixed_precision)
    discriminator = models.build_projection_discriminator(cfg, 4)
    rng = np.random.default_rng(1)
    w, b, table = _known_head(discriminator, 4, rng)
    images = rng.uniform(-1, 1, (5, 28, 28, 1)).astype(np.float32)
    labels = np.array([0, 1, 2, 3, 1], np.int32)
    logit = discriminator([images, labels], training=False)
    features = discriminator.get_layer("discriminator_trunk")(images, training=False).numpy().astype(np.float64)
    expected = features @ w + b + np.sum(table[labels] * features, axis=1, keepdims=True)
    assert logit.dtype == tf.float32 and logit.shape == (5, 1)
    # float16 sums over the features would be off by about 1e-3; the head computes in float32.
    np.testing.assert_allclose(logit.numpy(), expected, rtol=2e-5, atol=1e-5)
    other = discriminator([images, (labels + 1) % 4], training=False).numpy()
    assert np.abs(other - logit.numpy()).min() > 1e-3  # the label changes every logit


def test_projection_discriminator_reuses_the_unconditional_trunk_and_seeds():
    plain = models.build_discriminator(SMALL)
    projection = models.build_projection_discriminator(SMALL, 3)
    trunk = projection.get_layer("discriminator_trunk")
    for a, b in zip(plain.get_weights()[:-2], trunk.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(plain.get_weights()[-2], projection.get_layer("logit").get_weights()[0])


@pytest.mark.parametrize("mixed_precision", [False, True])
def test_conditional_generator_draws_the_requested_class(mixed_precision):
    cfg = dict(SMALL, mixed_precision=mixed_precision)
    generator = models.build_conditional_generator(cfg, 10)
    z = models.noise(tf.random.Generator.from_seed(0), 1, cfg)
    same_noise = tf.repeat(z, 10, axis=0)
    spread = models.noise(tf.random.Generator.from_seed(1), 10, cfg) * 50.0  # large inputs reach tanh's ends
    images = generator([spread, tf.range(10)], training=True).numpy()
    assert images.shape == (10, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.max() - images.min() > 0.5
    by_label = generator([same_noise, tf.range(10)], training=False).numpy()
    assert len({image.tobytes() for image in by_label}) == 10  # one noise, ten different images
    np.testing.assert_allclose(by_label[3], generator([z, tf.constant([3])], training=False).numpy()[0], atol=1e-6)


def test_the_untrained_generator_is_driven_by_the_noise_and_hears_the_label_quietly():
    """The label code starts at init_std, so the noise, not the label, decides the first images: a
    code at the noise's scale drowned it, and every class collapsed to nearly one image in training."""
    generator = models.build_conditional_generator(SMALL, 10)
    z = models.noise(tf.random.Generator.from_seed(0), 2, SMALL)
    by_label = generator([tf.repeat(z[:1], 10, axis=0), tf.range(10)], training=False).numpy()
    by_noise = generator([z, tf.zeros(2, tf.int32)], training=False).numpy()
    label_effect = np.abs(by_label[1:] - by_label[:1]).mean()
    noise_effect = np.abs(by_noise[1] - by_noise[0]).mean()
    assert 0 < label_effect < 0.2 * noise_effect


def test_sampled_labels_follow_the_class_probabilities():
    probabilities = np.array([0.1, 0.0, 0.6, 0.3], np.float32)
    labels = models.sample_labels(tf.random.Generator.from_seed(7), 20000, probabilities).numpy()
    assert labels.dtype == np.int32 and labels.shape == (20000,)
    np.testing.assert_allclose(np.bincount(labels, minlength=4) / 20000, probabilities, atol=0.015)
    assert not (labels == 1).any()  # a class of probability 0 is never drawn


def test_sampled_labels_are_reproducible_from_a_checkpointed_generator(tmp_path):
    rng = tf.random.Generator.from_seed(7)
    models.sample_labels(rng, 5, [0.5, 0.5])  # some draws before the checkpoint, as during training
    checkpoint = tf.train.Checkpoint(rng=rng)
    path = checkpoint.write(str(tmp_path / "ckpt"))
    probabilities = [0.2, 0.3, 0.5]
    first = models.sample_labels(rng, 64, probabilities).numpy()
    assert not np.array_equal(first, models.sample_labels(rng, 64, probabilities).numpy())
    checkpoint.read(path).assert_consumed()
    np.testing.assert_array_equal(first, models.sample_labels(rng, 64, probabilities).numpy())


def test_sampled_labels_compile_with_xla():
    def draw(seed):
        rng = tf.random.Generator.from_seed(seed)
        return tf.function(lambda: models.sample_labels(rng, 1000, [0.25, 0.75]), jit_compile=True)().numpy()

    labels = draw(3)
    assert np.array_equal(labels, draw(3)) and 0.2 < (labels == 0).mean() < 0.3


def test_fake_classes_uniform_draws_every_class_equally_often_and_data_draws_the_training_shares():
    labels = np.array([0, 0, 0, 1], np.int32)  # a class three times as frequent as the other
    np.testing.assert_allclose(labels_lib.fake_class_shares(labels, 2, "data"), [0.75, 0.25])
    np.testing.assert_allclose(labels_lib.fake_class_shares(labels, 2, "uniform"), [0.5, 0.5])


@pytest.mark.parametrize("draw, shares", [("data", [0.75, 0.25]), ("uniform", [0.5, 0.5])])
def test_the_training_step_draws_fake_classes_as_fake_classes_says(draw, shares, tmp_path, monkeypatch):
    from data.datasets import load_training_images
    from training import loop
    from training import plan as training_plan
    for name, count in (("cat", 6), ("dog", 2)):
        make_image_folder(tmp_path / "pets" / name, count=count, seed=count)
    seen = []

    def step_maker(state, cfg, strategy, batch_size, class_probabilities=None):
        seen.append(class_probabilities)
        raise KeyboardInterrupt  # the shares are all this test needs: no step is built or run

    monkeypatch.setattr(loop, "make_train_step", step_maker)
    plan = training_plan.plan(tmp_path / "ck", 1, 1, overrides=dict(
        dataset="folder", data_dir=str(tmp_path / "pets"), conditional=True, fake_classes=draw, g_filters=8,
        d_filters=8, batch_size=4, precision="float32", cache_dir=str(tmp_path / "cache")))
    with pytest.raises(KeyboardInterrupt):
        loop.run(plan, loop.build_state(plan), load_training_images(plan.cfg))
    np.testing.assert_allclose(seen[0], shares)
