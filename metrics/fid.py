"""Fréchet Inception Distance and Kernel Inception Distance of feature vectors: pure NumPy.

No TensorFlow and no files: features come in as (N, D) arrays, numbers go out. The feature
extractor, the inputs and the cache are in fid_inputs.py.

FID (Heusel et al. 2017) fits a Gaussian to each set of features and measures
    |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)),
with the trace of the root from symmetric eigendecompositions. KID (Binkowski et al. 2018) is
the unbiased squared MMD with the kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets.
"""
from dataclasses import dataclass

import numpy as np

# Below the feature dimension (2048) the covariance is singular, and FID is biased upward at
# small N in any case; 10000 images per set is the usual minimum for reported numbers.
SMALL_N = 2048


@dataclass
class Stats:
    mu: np.ndarray  # (D,) float64
    sigma: np.ndarray  # (D, D) float64, unbiased (ddof=1, as np.cov)
    count: int  # number of feature vectors behind them
    features: np.ndarray = None  # (N, D) float32, kept only when KID needs them


class RunningStats:
    """Mean and covariance accumulated batch by batch in float64: memory stays (D, D) however
    many images there are. Set keep_features to also keep the vectors themselves (for KID)."""

    def __init__(self, keep_features=False):
        self.count = 0
        self._shift = self._sum = self._outer = None
        self._kept = [] if keep_features else None

    def add(self, features):
        x = np.asarray(features, np.float64)
        if x.ndim != 2:
            raise ValueError(f"features must be (N, D), got shape {x.shape}")
        if not len(x):
            return
        if self._shift is None:
            # Sums of (x - shift) with shift near the mean avoid the cancellation that
            # sum(x x^T) - n mu mu^T suffers when the mean is large against the spread.
            self._shift = x.mean(axis=0)
            self._sum = np.zeros_like(self._shift)
            self._outer = np.zeros((x.shape[1], x.shape[1]))
        centred = x - self._shift
        self._sum += centred.sum(axis=0)
        self._outer += centred.T @ centred
        self.count += len(x)
        if self._kept is not None:
            self._kept.append(np.asarray(features, np.float32))

    def result(self):
        if self.count < 2:
            raise ValueError(f"a covariance needs at least 2 feature vectors, got {self.count}")
        offset = self._sum / self.count
        sigma = (self._outer - self.count * np.outer(offset, offset)) / (self.count - 1)
        kept = np.concatenate(self._kept) if self._kept is not None else None
        return Stats(self._shift + offset, sigma, self.count, kept)


def statistics(features, keep_features=False):
    """Stats of one (N, D) array at once."""
    running = RunningStats(keep_features)
    running.add(features)
    return running.result()


def trace_sqrt_product(sigma1, sigma2):
    """tr (S1 S2)^(1/2) of two covariances (symmetric positive semi-definite).

    S1 S2 has the eigenvalues of R S2 R with R = S1^(1/2), and R S2 R is symmetric, so two
    symmetric eigendecompositions give the trace exactly. That is about 3x faster than the
    general matrix root (scipy.linalg.sqrtm, as in pytorch-fid) at 2048 dimensions, stays real,
    and needs no ridge when fewer images than dimensions make a covariance singular.
    """
    values, vectors = np.linalg.eigh(sigma1)
    root = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    product = root @ sigma2 @ root
    # Rounding makes tiny negative eigenvalues of what is positive semi-definite.
    return float(np.sqrt(np.clip(np.linalg.eigvalsh((product + product.T) / 2), 0.0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """The Fréchet distance of N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"mismatched statistics: mu {mu1.shape} vs {mu2.shape}, "
                         f"sigma {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    # The true value is >= 0; a tiny negative one is rounding in the traces of equal sets.
    return max(float(value), 0.0)


def fid_of_stats(real, fake):
    """FID of two Stats."""
    return frechet_distance(real.mu, real.sigma, fake.mu, fake.sigma)


def polynomial_kernel(x, y):
    """k(x, y) = (x.y / d + 1)^3 for all pairs of rows: (n, d), (m, d) -> (n, m)."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x, y):
    """Unbiased squared MMD of two equally large samples with the polynomial kernel: the
    diagonals k(x_i, x_i) are left out of the within-set means."""
    m = len(x)
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return within - 2.0 * kxy.sum() / (m * m)


def kernel_inception_distance(features1, features2, subsets=100, subset_size=1000, seed=0):
    """(mean, std) of the unbiased MMD^2 over `subsets` random subsets of up to `subset_size`
    vectors from each set (drawn without replacement within a subset)."""
    x_all, y_all = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    m = min(len(x_all), len(y_all), subset_size)
    if m < 2:
        raise ValueError(f"KID needs at least 2 feature vectors per set, got {len(x_all)} and {len(y_all)}")
    rng = np.random.default_rng(seed)
    values = [mmd2_unbiased(x_all[rng.choice(len(x_all), m, replace=False)],
                            y_all[rng.choice(len(y_all), m, replace=False)]) for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))


def small_n_warning(count, what):
    """A sentence when `count` images are too few for an unbiased-looking FID, else None."""
    if count < SMALL_N:
        return (f"{what} has {count} images, fewer than {SMALL_N} (the feature dimension): FID is strongly "
                "biased upward at small N and only comparable between runs with the same N; "
                "10000 images is the usual minimum")
    return None
