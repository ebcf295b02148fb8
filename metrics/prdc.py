"""Precision, recall, density and coverage of generated features against real ones: pure NumPy.

Every point gets a ball whose radius is the distance to its k-th nearest neighbour in its own set
(itself excluded), as in clovaai/generative-evaluation-prdc:
    precision (Kynkaanniemi et al. 2019) = share of fake points inside at least one real ball,
    recall                               = share of real points inside at least one fake ball,
    density   (Naeem et al. 2020)        = sum over fake points of the number of real balls
                                           holding it, divided by k M,
    coverage                             = share of real balls holding at least one fake point.
"Inside" is strict (distance < radius), as in the reference. Precision and recall use k=3 and
density and coverage k=5, the values of the two papers.

Distances are computed in row batches and never kept whole. With N real, M fake, D dims and batch
size b, peak memory is about 8 (N + M) D bytes for the float64 copies of the features plus
3 x 8 b max(N, M) bytes for one batch of distances and its partitioned copy and masks: for
10,000 x 10,000 Inception features (D = 2048) and b = 1000, about 0.33 + 0.24 = 0.6 GB.
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PRDC:
    precision: float
    recall: float
    density: float
    coverage: float


def prdc(real, fake, k_pr=3, k_dc=5, batch_size=1000):
    """PRDC of fake (M, D) against real (N, D) features; returns a PRDC of four floats."""
    for name, k in (("k_pr", k_pr), ("k_dc", k_dc), ("batch_size", batch_size)):
        if int(k) != k or k < 1:
            raise ValueError(f"{name} must be a positive integer, got {k}")
    real, fake = _features(real, "real"), _features(fake, "fake")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real and fake features differ in dimension: "
                         f"{real.shape[1]} against {fake.shape[1]}")
    _enough(real, max(k_pr, k_dc), "real")
    _enough(fake, k_pr, "fake")

    real_sq, fake_sq = _sq_norms(real), _sq_norms(fake)
    real_radii = _sq_radii(real, real_sq, {k_pr, k_dc}, batch_size)  # k -> (N,)
    fake_radii = _sq_radii(fake, fake_sq, {k_pr}, batch_size)[k_pr]  # (M,)

    in_real_ball = np.zeros(len(fake), bool)  # precision, per fake point
    balls_holding = np.zeros(len(fake), np.int64)  # density, per fake point
    recalled = covered = 0
    for start in range(0, len(real), batch_size):
        stop = min(start + batch_size, len(real))
        block = _sq_distances(real[start:stop], real_sq[start:stop], fake, fake_sq)  # (b, M)
        r_pr = real_radii[k_pr][start:stop, None]
        r_dc = real_radii[k_dc][start:stop, None]
        in_real_ball |= (block < r_pr).any(axis=0)
        balls_holding += (block < r_dc).sum(axis=0)
        recalled += int((block < fake_radii[None, :]).any(axis=1).sum())
        covered += int((block.min(axis=1) < r_dc[:, 0]).sum())
    return PRDC(precision=float(in_real_ball.mean()),
                recall=recalled / len(real),
                density=float(balls_holding.sum()) / (k_dc * len(fake)),
                coverage=covered / len(real))


def _features(x, name):
    # float64 because |a|^2 + |b|^2 - 2ab cancels most digits for close points: in float32 a
    # 2048-d point's distance to its own copy comes out at up to 1e-3 of its norm, enough to move
    # points across radii. It costs twice the memory and time of float32.
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} features must be an (N, D) array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} features contain NaN or infinite values")
    return x


def _enough(x, k, name):
    if len(x) <= k:
        raise ValueError(f"{name} has {len(x)} points: a radius at the {k}-th nearest neighbour "
                         f"needs at least {k + 1}")


def _sq_norms(x):
    return np.einsum("ij,ij->i", x, x)


def _sq_distances(a, a_sq, b, b_sq):
    """Squared distances (len(a), len(b)); in place, so one block is the only large temporary."""
    # a @ a.T goes to BLAS's symmetric product, whose rounding differs from the general one used
    # against another set; a copy of b keeps every distance on one routine, so an exact copy of a
    # point lands at exactly its k-th neighbour's distance, not on either side of the ball's edge.
    block = a @ (b.copy() if np.shares_memory(a, b) else b).T
    block *= -2.0
    block += a_sq[:, None]
    block += b_sq[None, :]
    # Rounding can push the distance of (near-)identical points below zero.
    return np.maximum(block, 0.0, out=block)


def _sq_radii(x, x_sq, ks, batch_size):
    """Squared distance of each point to its k-th nearest other point, for each k in ks.

    Squared, because the comparisons above are on squared distances and squaring keeps order.
    """
    ks = sorted(ks)
    radii = {k: np.empty(len(x)) for k in ks}
    for start in range(0, len(x), batch_size):
        stop = min(start + batch_size, len(x))
        block = _sq_distances(x[start:stop], x_sq[start:stop], x, x_sq)
        rows = np.arange(stop - start)
        block[rows, start + rows] = np.inf  # the point itself is no neighbour
        # One partition puts every requested rank in its sorted place; index k-1 is the k-th.
        block = np.partition(block, [k - 1 for k in ks], axis=1)
        for k in ks:
            radii[k][start:stop] = block[:, k - 1]
    return radii
