"""PRDC and the copy check against cases with known answers and a full-matrix cdist version.

Batch sizes are chosen not to divide the set sizes, so the last, shorter batch is exercised too.
"""
import numpy as np
import pytest
from scipy.spatial.distance import cdist

from metrics.copies import closest_pairs, copy_report, nearest
from metrics.prdc import prdc


def cloud(n, d=8, offset=0.0, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)) + offset


def prdc_by_full_matrix(real, fake, k_pr, k_dc):
    """The formulas of the reference implementation, on whole cdist matrices."""
    def radii(x, k):  # column 0 of each sorted row is the point itself, at distance 0
        return np.sort(cdist(x, x), axis=1)[:, k]
    d = cdist(real, fake)  # (N, M)
    return dict(precision=(d < radii(real, k_pr)[:, None]).any(axis=0).mean(),
                recall=(d < radii(fake, k_pr)[None, :]).any(axis=1).mean(),
                density=(d < radii(real, k_dc)[:, None]).sum(axis=0).mean() / k_dc,
                coverage=(d.min(axis=1) < radii(real, k_dc)).mean())


# --- prdc ---------------------------------------------------------------------------------------

def test_a_set_against_itself():
    x = cloud(101, d=16)
    r = prdc(x, x, batch_size=30)
    assert (r.precision, r.recall, r.coverage) == (1.0, 1.0, 1.0)
    # Each ball holds its centre and the k-1 points strictly closer than the k-th: k fake points
    # per real ball, so density is 1 unless rounding moves one point across one radius.
    assert r.density == pytest.approx(1.0, abs=1 / (5 * 101))


def test_far_apart_sets_score_zero():
    r = prdc(cloud(60, seed=1), cloud(50, offset=100.0, seed=2), batch_size=16)
    assert (r.precision, r.recall, r.density, r.coverage) == (0.0, 0.0, 0.0, 0.0)


def test_a_random_half_of_the_real_set():
    real = cloud(200, seed=3)
    half = real[np.random.default_rng(4).permutation(200)[:100]]
    r = prdc(real, half, batch_size=64)
    assert r.precision == 1.0  # every fake point is the centre of a real ball
    # Not 0.5: the half's balls are wider than the whole set's and cover most of the other half
    # (0.8 to 0.99 measured for 64 to 2 dims), the known optimism of k-NN recall. Bound only.
    assert 0.5 <= r.recall <= 1.0
    assert prdc(half, real, batch_size=64).recall == 1.0


def test_a_dropped_mode_halves_recall_and_coverage():
    # Real data has two far-apart modes of 80 points; the "generator" reproduces only the first.
    mode_a, mode_b = cloud(80, seed=5), cloud(80, offset=100.0, seed=6)
    real = np.concatenate([mode_a, mode_b])
    r = prdc(real, mode_a, batch_size=50)
    assert (r.precision, r.recall, r.coverage) == (1.0, 0.5, 0.5)
    assert r.density == pytest.approx(1.0, abs=1 / (5 * 80))
    # The other way round: half of the generated points are off the real data.
    r = prdc(mode_a, real, batch_size=50)
    assert (r.precision, r.recall, r.coverage) == (0.5, 1.0, 1.0)
    assert r.density == pytest.approx(0.5, abs=1 / (5 * 160))


def test_a_case_worked_by_hand():
    # Real points 0..4 on a line, k = 1: every real radius is 1. Fake 0.5 lies in the balls of
    # 0 and 1; fake 5 lies exactly on the edge of 4's ball, which does not count (strict, as in
    # the reference); fake 10 is in no ball. Real 0 and 1 have a fake point closer than 1; the
    # fake radii (4.5, 4.5, 5) are wide enough to hold every real point.
    real, fake = np.arange(5.0)[:, None], np.array([[0.5], [5.0], [10.0]])
    r = prdc(real, fake, k_pr=1, k_dc=1, batch_size=2)
    assert r.precision == pytest.approx(1 / 3)
    assert r.recall == 1.0
    assert r.density == pytest.approx(2 / 3)  # (2 + 0 + 0) balls / (k = 1 x 3 fake points)
    assert r.coverage == pytest.approx(2 / 5)


@pytest.mark.parametrize("k_pr, k_dc", [(3, 5), (1, 1), (4, 2)])
def test_matches_the_full_matrix_formulas(k_pr, k_dc):
    # A narrower, shifted fake cloud: no metric at 0 or 1, so every comparison counts.
    real, fake = cloud(53, d=6, seed=7), cloud(41, d=6, offset=0.8, seed=8) * 0.6
    r = prdc(real, fake, k_pr=k_pr, k_dc=k_dc, batch_size=7)
    expected = prdc_by_full_matrix(real, fake, k_pr, k_dc)
    assert all(0 < expected[name] < 1 for name in ("precision", "recall", "coverage"))
    for name, value in expected.items():
        assert getattr(r, name) == pytest.approx(value, abs=1e-12), name


@pytest.mark.parametrize("real, fake, kwargs, message", [
    (cloud(5), cloud(20), {}, "real has 5 points"),  # k_dc=5 needs 6
    (cloud(20), cloud(3), {}, "fake has 3 points"),  # k_pr=3 needs 4
    (cloud(20, d=8), cloud(20, d=9), {}, "dimension"),
    (cloud(20)[0], cloud(20), {}, r"\(N, D\)"),
    (cloud(20), np.full((20, 8), np.nan), {}, "NaN"),
    (cloud(20), cloud(20), {"k_pr": 0}, "k_pr"),
    (cloud(20), cloud(20), {"batch_size": 0}, "batch_size"),
])
def test_bad_inputs_are_refused(real, fake, kwargs, message):
    with pytest.raises(ValueError, match=message):
        prdc(real, fake, **kwargs)


# --- copies -------------------------------------------------------------------------------------

def test_exact_copies_are_flagged_and_point_to_their_training_items():
    real = cloud(53, d=10, seed=11)
    picks = np.random.default_rng(12).choice(53, size=20, replace=False)
    fake = np.concatenate([real[picks], cloud(13, d=10, offset=1000.0, seed=13)])
    report = copy_report(fake, real, batch_size=7)
    assert report.share == pytest.approx(20 / 33)
    assert (report.indices[:20] == picks).all()
    assert (report.distances[:20] == 0).all()  # exact, not ~1e-6 from the expansion
    assert (report.distances[20:] > report.threshold).all()


def pixels(n, seed):
    """Flattened 6x6 RGB uint8 images as float32, the way the caller passes raw pixels."""
    images = np.random.default_rng(seed).integers(0, 256, size=(n, 6, 6, 3), dtype=np.uint8)
    return images.reshape(n, -1).astype(np.float32)


def test_raw_pixels_match_cdist_and_duplicates_do_not_zero_the_threshold():
    real = pixels(40, seed=14)
    real[30:] = real[:10]  # a quarter of the training set is duplicated: 20 items at distance 0
    fake = pixels(25, seed=15)
    d = cdist(fake.astype(np.float64), real.astype(np.float64))
    indices, distances = nearest(fake, real, batch_size=6)
    assert (indices == d.argmin(axis=1)).all()
    assert distances == pytest.approx(d.min(axis=1), rel=1e-12)
    as_uint8 = nearest(fake.astype(np.uint8), real.astype(np.uint8), batch_size=6)
    assert (as_uint8[0] == indices).all() and (as_uint8[1] == distances).all()

    own = cdist(real.astype(np.float64), real.astype(np.float64))
    np.fill_diagonal(own, np.inf)
    indices, distances = nearest(real, real, exclude_self=True, batch_size=6)
    assert (indices == own.argmin(axis=1)).all()
    assert (distances == 0).sum() == 20
    spacing = own.min(axis=1)
    report = copy_report(fake, real, batch_size=6)
    assert report.threshold == pytest.approx(np.median(spacing[spacing > 0]), rel=1e-12)
    assert report.threshold > 0


def test_closest_pairs_come_closest_first():
    real = cloud(30, d=4, seed=16)
    fake = real[[3, 7, 11]] + np.array([[0.3], [0.1], [0.2]])  # moved by 0.6, 0.2, 0.4
    report = copy_report(fake, real, batch_size=4)
    pairs = closest_pairs(report)
    assert [(f, r) for f, r, _ in pairs] == [(1, 7), (2, 11), (0, 3)]
    assert closest_pairs(report, count=2) == pairs[:2]
    assert [d for _, _, d in pairs] == pytest.approx([0.2, 0.4, 0.6])


@pytest.mark.parametrize("call, message", [
    (lambda: copy_report(cloud(5), np.ones((4, 8))), "exact duplicate"),
    (lambda: copy_report(cloud(5), cloud(1)), "at least 2"),
    (lambda: nearest(cloud(5, d=3), cloud(5, d=4)), "dimension"),
    (lambda: nearest(cloud(5), cloud(6), exclude_self=True), "one set"),
    (lambda: nearest(cloud(5), cloud(6), batch_size=0), "batch_size"),
    (lambda: nearest(np.zeros((0, 8)), cloud(6)), "non-empty"),
])
def test_copy_check_refuses_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_set_against_a_copy_of_itself_scores_as_against_itself():
    # The memorisation case: generated images that are exact copies of the training images.
    x = np.random.default_rng(3).normal(size=(300, 64))
    assert prdc(x, x.copy()) == prdc(x, x)
    assert prdc(x, x.copy()).density == pytest.approx(1.0, abs=1 / (5 * 300))
