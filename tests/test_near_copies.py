"""The near-copy rule of generate_img.py --reject-copies, on vectors whose answers are known."""
import numpy as np
import pytest

from metrics import near_copies


def brute_force(queries, references, exclude_self=False):
    d = np.sqrt(((queries[:, None, :].astype(np.float64) - references[None].astype(np.float64)) ** 2).sum(-1))
    if exclude_self:
        np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1, kind="stable"), np.sort(d, axis=1)


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_k_nearest_match_all_pairs_across_blocks(batch_size):
    rng = np.random.default_rng(0)
    queries, references = rng.normal(size=(23, 5)), rng.normal(size=(41, 5))
    indices, distances = near_copies.nearest_k(queries, references, 6, batch_size=batch_size)
    order, sorted_d = brute_force(queries, references)
    assert np.array_equal(indices, order[:, :6])
    np.testing.assert_allclose(distances, sorted_d[:, :6], rtol=1e-9)


def test_k_nearest_within_one_set_leaves_each_item_out_and_caps_k():
    rng = np.random.default_rng(1)
    items = rng.integers(0, 256, (9, 12), dtype=np.uint8)  # pixels stay uint8, cast block by block
    indices, distances = near_copies.nearest_k(items, items, 50, exclude_self=True, batch_size=4)
    order, sorted_d = brute_force(items, items, exclude_self=True)
    assert indices.shape == (9, 8)
    assert not (indices == np.arange(9)[:, None]).any()
    np.testing.assert_allclose(distances, sorted_d[:, :8], rtol=1e-9)


def test_an_exact_copy_is_at_distance_zero_not_rounding_noise():
    rng = np.random.default_rng(2)
    references = rng.normal(size=(30, 64)) * 1000
    _, distances = near_copies.nearest_k(references[[4]], references, 5)
    assert distances[0, 0] == 0.0


def space(references, percentile=5):
    _, own = near_copies.nearest_k(references, references, 1, exclude_self=True)
    return near_copies.Space("test", references, own[:, 0], near_copies.threshold(own[:, 0], percentile))


def test_a_copy_is_near_and_a_point_in_a_dense_cluster_is_not():
    rng = np.random.default_rng(3)
    spread = rng.normal(size=(200, 8)) * 10  # training items far apart
    cluster = np.zeros(8) + rng.normal(size=(60, 8)) * 0.01  # 60 near-identical training items
    references = np.concatenate([spread, cluster])
    queries = np.stack([spread[17] + 1e-3,  # a copy of one item: near
                        rng.normal(size=8) * 0.01,  # inside the cluster: close to all 60, no closer to one
                        rng.normal(size=8) + 100])  # a new item: far from all
    # The cluster is 60 of 260 items: at the 30th percentile the threshold lies above its spacing.
    verdict = near_copies.judge([queries], [space(references, percentile=30)])
    assert verdict.near.tolist() == [True, False, False]
    # The absolute rule alone would drop the cluster's point too: the relative one keeps it.
    assert verdict.absolute.tolist() == [True, True, False]
    assert verdict.index[0] == 17


def test_exact_duplicates_in_the_training_set_do_not_set_the_threshold_to_zero():
    own = np.array([0.0, 0.0, 0.0, 2.0, 3.0, 4.0])
    assert near_copies.threshold(own, 0) == 2.0
    with pytest.raises(Exception, match="exact duplicate"):
        near_copies.threshold(np.zeros(4), 1)


def test_near_in_either_space_is_enough():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(100, 6)), rng.normal(size=(100, 6))
    queries_a = np.stack([a[3], rng.normal(size=6)])  # a copy only in space a, then a new item
    queries_b = np.stack([rng.normal(size=6), b[9]])  # ... and a copy only in space b
    verdict = near_copies.judge([queries_a, queries_b], [space(a), space(b)])
    assert verdict.near.tolist() == [True, True]


@pytest.mark.slow  # runs the Inception network (random weights, small input)
def test_the_bench_drops_unseen_images_whose_twin_is_in_the_training_half(tmp_path, capsys):
    import argparse
    import shutil
    import sys

    from conftest import REPO, make_image_folder
    sys.path.insert(0, str(REPO / "bench"))
    import copy_filter
    folder = make_image_folder(tmp_path / "images", count=8, mode="RGB")
    for path in list(folder.iterdir()):  # every image twice: the seeded halves split some pairs
        shutil.copy(path, folder / f"twin_{path.name}")
    parser = argparse.ArgumentParser()
    copy_filter.add_arguments(parser)
    copy_filter.run(parser.parse_args(["--data", str(folder), "--num", "8", "--weights", "random",
                                       "--inception-size", "75", "--percentiles", "1", "50"]))
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("copy-filter")]
    assert [line.split()[:2] for line in lines] == [["copy-filter", "percentile=1"], ["copy-filter", "percentile=50"]]
    for line in lines:
        values = dict(word.split("=") for word in line.split()[1:])
        # A twin is at distance 0 from its training image, so at least the split pairs are dropped,
        # and the filter drops no image the absolute rule alone would keep.
        assert 0 < float(values["dropped"]) <= float(values["absolute_dropped"])
