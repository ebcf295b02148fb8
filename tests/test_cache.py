"""Image folders are decoded once into a cache that later runs read batch by batch."""
import numpy as np
import pytest

from conftest import make_image_folder
from data import cache, datasets, decode
from utils.errors import UserError


@pytest.fixture
def folder(tmp_path):
    return make_image_folder(tmp_path / "images", count=6, mode="RGB")


def test_the_second_load_reads_the_cache_and_matches_a_direct_decode(folder, tmp_path, monkeypatch, capsys):
    first = datasets.load_folder(folder, 16, 3, cache_dir=tmp_path / "cache")
    assert "Decoding 6 images" in capsys.readouterr().out

    def no_decoding(*args):
        raise AssertionError("decoded again although the folder did not change")

    monkeypatch.setattr(decode, "_try_decode", no_decoding)
    second = datasets.load_folder(folder, 16, 3, cache_dir=tmp_path / "cache")
    assert "Decoding" not in capsys.readouterr().out
    direct = np.stack([decode.decode_image(p, 16, 3) for p in decode.scan_folder(folder)[0]])
    assert np.array_equal(np.asarray(first.images), direct) and np.array_equal(np.asarray(second.images), direct)
    order = np.array([5, 0, 3])
    assert np.array_equal(second.images[order], direct[order]) and second.images[1:3].shape == (2, 16, 16, 3)


def test_a_changed_folder_or_target_size_rebuilds(folder, tmp_path, capsys):
    datasets.load_folder(folder, 16, 3, cache_dir=tmp_path / "cache")
    make_image_folder(folder, count=7, mode="RGB", seed=1)  # rewrites the six and adds a seventh
    assert len(datasets.load_folder(folder, 16, 3, cache_dir=tmp_path / "cache").images) == 7
    assert len(datasets.load_folder(folder, 32, 3, cache_dir=tmp_path / "cache").images) == 7
    assert capsys.readouterr().out.count("Decoding") == 3


def test_decode_failures_are_remembered_with_the_entry(folder, tmp_path):
    (folder / "broken.png").write_bytes(b"not a png")
    for _ in range(2):
        loaded = datasets.load_folder(folder, 16, 3, cache_dir=tmp_path / "cache")
        assert len(loaded.images) == 6 and [p.endswith("broken.png") for p, _ in loaded.skipped] == [True]


def test_a_refused_load_leaves_no_entry(folder, tmp_path):
    (folder / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="--strict"):
        datasets.load_folder(folder, 16, 3, strict=True, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache" / "images").iterdir())


def test_a_half_written_entry_is_rebuilt(folder, tmp_path, capsys):
    datasets.load_folder(folder, 16, 3, cache_dir=tmp_path / "cache")
    data_file = next((tmp_path / "cache" / "images").glob("*.u8"))
    data_file.write_bytes(data_file.read_bytes()[:100])  # as a crash during a copy might leave it
    assert len(datasets.load_folder(folder, 16, 3, cache_dir=tmp_path / "cache").images) == 6
    assert capsys.readouterr().out.count("Decoding") == 2


def test_cached_rows_are_read_from_disk_not_held_in_memory(tmp_path):
    rows = np.arange(50 * 4 * 4 * 3, dtype=np.uint32).astype(np.uint8).reshape(50, 4, 4, 3)
    decoded = ((f"{i}.png", (rows[i], None)) for i in range(50))
    images, skipped = cache.build(tmp_path, "k", decoded, 4, 3)
    assert images.shape == (50, 4, 4, 3) and skipped == []
    assert np.array_equal(images[np.array([49, 2])], rows[[49, 2]])
    with open(images.path, "r+b") as f:  # change row 7 on disk: the next read must see it
        f.seek(7 * 4 * 4 * 3)
        f.write(bytes([255]) * (4 * 4 * 3))
    assert (images[np.array([7])] == 255).all() and np.array_equal(images[np.array([8])], rows[[8]])
