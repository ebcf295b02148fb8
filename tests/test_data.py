"""Data loading: IDX files, image folders (mixed, messy), and the per-epoch pipeline."""
import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from data import datasets, decode, idx, pipeline
from utils.errors import UserError


def write_idx(folder, images):
    folder.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">IIII", 0x803, len(images), *images.shape[1:])
    with gzip.open(folder / idx.IDX_IMAGES, "wb") as f:
        f.write(header + images.tobytes())


def test_idx_files_are_read_from_data_dir_first(tmp_path):
    images = np.arange(3 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(3, 28, 28)
    write_idx(tmp_path / "mine", images)
    loaded, _, source = idx.load_idx("fashion_mnist", tmp_path / "mine", download=None)
    np.testing.assert_array_equal(loaded, images)
    assert source == str(tmp_path / "mine")


def test_idx_lookup_order_then_download(tmp_path, monkeypatch):
    write_idx(tmp_path / "second", np.zeros((2, 28, 28), np.uint8))
    monkeypatch.setitem(idx.IDX_DIRS, "mnist", [tmp_path / "first", tmp_path / "second"])
    assert idx.load_idx("mnist")[2] == str(tmp_path / "second")
    monkeypatch.setitem(idx.IDX_DIRS, "mnist", [tmp_path / "first"])
    downloaded = np.ones((4, 28, 28), np.uint8)
    assert idx.load_idx("mnist", download=lambda name, split: (downloaded, None))[2] == "Keras download"


def test_offline_without_files_says_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setitem(idx.IDX_DIRS, "fashion_mnist", [tmp_path / "nowhere"])

    def offline(name, split):
        raise OSError("network is unreachable")

    with pytest.raises(UserError) as error:
        idx.load_idx("fashion_mnist", download=offline)
    message = str(error.value)
    assert str(tmp_path / "nowhere") in message and "train-images-idx3-ubyte.gz" in message
    assert "apt-get install dataset-fashion-mnist" in message and "--data" in message


def test_bad_idx_file_is_named(tmp_path):
    (tmp_path / "d").mkdir()
    with gzip.open(tmp_path / "d" / idx.IDX_IMAGES, "wb") as f:
        f.write(b"\0" * 40)
    with pytest.raises(UserError, match="not an IDX image file"):
        idx.load_idx("mnist", tmp_path / "d", download=None)


def test_idx_images_are_conformed_to_size_and_channels():
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    out = datasets.conform(images, 32, 3)
    assert out.shape == (5, 32, 32, 3) and out.dtype == np.uint8
    assert np.array_equal(out[..., 0], out[..., 2])


def _save(path, array, mode=None, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path, **kwargs)


@pytest.fixture
def mixed_folder(tmp_path):
    """Grayscale, RGB, RGBA, palette, JPEG and BMP, one in a subfolder; a wide image whose centre is green."""
    folder = tmp_path / "mixed"
    rng = np.random.default_rng(0)
    _save(folder / "gray.png", rng.integers(0, 256, (30, 30), dtype=np.uint8))
    _save(folder / "rgb.jpg", rng.integers(0, 256, (40, 50, 3), dtype=np.uint8))
    _save(folder / "sub" / "rgba.png", rng.integers(0, 256, (32, 32, 4), dtype=np.uint8))
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).convert("P").save(folder / "palette.gif")
    _save(folder / "plain.bmp", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    wide = np.zeros((20, 60, 3), np.uint8)
    wide[:, :20, 0] = 255
    wide[:, 20:40, 1] = 255
    wide[:, 40:, 2] = 255
    _save(folder / "wide.png", wide)
    return folder


@pytest.mark.parametrize("channels", [1, 3])
def test_mixed_folder_loads_every_image(mixed_folder, channels):
    loaded = datasets.load_folder(mixed_folder, 16, channels)
    assert loaded.images.shape == (6, 16, 16, channels) and loaded.images.dtype == np.uint8
    assert loaded.skipped == []


def test_wide_image_is_centre_cropped(mixed_folder):
    names = decode.scan_folder(mixed_folder)[0]
    wide = datasets.load_folder(mixed_folder, 16, 3).images[[n.endswith("wide.png") for n in names].index(True)]
    assert wide[..., 1].min() > 200 and wide[..., 0].max() < 40 and wide[..., 2].max() < 40


def test_pipeline_scales_to_minus_one_one():
    batch = np.array([[[[0]], [[255]]]], np.uint8)
    np.testing.assert_allclose(pipeline.to_float(batch).numpy().ravel(), [-1.0, 1.0])


def test_epoch_order_is_a_seeded_function_of_the_epoch():
    images = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1)

    def order(seed, epoch):
        return np.concatenate([b.ravel() for b in pipeline.epoch_batches(images, 3, seed, epoch, False)])

    assert np.array_equal(order(1, 1), order(1, 1))
    assert not np.array_equal(order(1, 1), order(1, 2))
    assert len(order(1, 1)) == 9 and len(set(order(1, 1))) == 9  # each image at most once; remainder dropped


def test_worker_pipelines_share_out_each_global_batch_in_order():
    """Two workers with two replicas each: replica r of worker w gets rows [4w + 2r, 4w + 2r + 2)
    of every global batch of 8, as one process with four replicas would split it."""
    images = np.arange(40, dtype=np.uint8).reshape(40, 1, 1, 1)
    whole = [b.ravel() for b in pipeline.epoch_batches(images, 8, 3, 1, False)]
    shares = [[b.numpy().ravel() for b in pipeline.epoch_dataset(images, 8, 3, 1, False, worker, 2, 2)]
              for worker in range(2)]
    assert len(shares[0]) == len(shares[1]) == 2 * len(whole)  # two replica batches per global batch
    for i, batch in enumerate(whole):
        pieces = [shares[0][2 * i], shares[0][2 * i + 1], shares[1][2 * i], shares[1][2 * i + 1]]
        np.testing.assert_array_equal(np.concatenate(pieces), (batch / 127.5 - 1).astype(np.float32))


def test_epoch_pipeline_runs_without_the_autotuning_thread():
    """Deleting an autotuned iterator waited for its tuning thread to wake: up to a minute idle an epoch."""
    images = np.zeros((8, 2, 2, 1), np.uint8)
    assert pipeline.epoch_dataset(images, 4, 0, 1, False).options().autotune.enabled is False
    labelled = pipeline.epoch_dataset(images, 4, 0, 1, False, labels=np.zeros(8, np.int32))
    assert labelled.options().autotune.enabled is False


def test_flip_mirrors_about_half_the_images():
    image = np.arange(4, dtype=np.uint8).reshape(1, 1, 4, 1)
    images = np.repeat(image, 200, axis=0)
    flipped = np.concatenate(list(pipeline.epoch_batches(images, 50, 0, 1, True)))
    mirrored = (flipped[:, 0, :, 0] == [3, 2, 1, 0]).all(axis=1)
    assert 60 < mirrored.sum() < 140
    assert ((flipped[:, 0, :, 0] == [0, 1, 2, 3]).all(axis=1) | mirrored).all()
    assert (images[:, 0, :, 0] == [0, 1, 2, 3]).all()  # the source array is left alone


def test_fashion_mnist_is_found_where_make_test_installs_it():
    """`make test` installs Debian's dataset-fashion-mnist; the loader must find it without a download."""
    def no_download(name, split):
        raise AssertionError("a download was attempted although the files are on disk")

    images, _, source = idx.load_idx("fashion_mnist", download=no_download)
    assert images.shape == (60000, 28, 28) and images.dtype == np.uint8
    assert 60 < images.mean() < 80  # Fashion-MNIST's mean pixel is about 73; MNIST's about 33


def test_fashion_mnist_labels_of_both_splits_are_found_beside_the_images():
    """Debian's dataset-fashion-mnist ships the label files too: 6000 of each class to train on, 1000 to test."""
    def no_download(name, split):
        raise AssertionError("a download was attempted although the files are on disk")

    for split, per_class in [("train", 6000), ("test", 1000)]:
        images, labels, _ = idx.load_idx("fashion_mnist", split=split, download=no_download, labelled=True)
        assert len(images) == len(labels) and np.bincount(labels).tolist() == [per_class] * 10


def test_data_argument_names_a_dataset_an_idx_folder_or_an_image_folder(tmp_path):
    assert datasets.resolve_data_arg("mnist", "fashion_mnist") == {"dataset": "mnist", "data_dir": None}
    write_idx(tmp_path / "idx", np.zeros((2, 28, 28), np.uint8))
    assert datasets.resolve_data_arg(str(tmp_path / "idx"), "mnist") == {"dataset": "mnist",
                                                                         "data_dir": str(tmp_path / "idx")}
    (tmp_path / "photos").mkdir()
    assert datasets.resolve_data_arg(str(tmp_path / "photos"), "mnist")["dataset"] == "folder"
    with pytest.raises(UserError, match="no such folder"):
        datasets.resolve_data_arg(str(tmp_path / "nothing"), "mnist")
