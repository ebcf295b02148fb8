"""Memorisation check: how close generated items come to training items. Pure NumPy.

Works for any dimension: Inception features, or raw pixels (flattened images, D = 12288 at
64x64x3). A generated item counts as a copy when its nearest training item is closer than the
median distance between a training item and its nearest other training item: the typical spacing
of the training set itself.

Distances are computed block by block, batch_size queries against batch_size references, each
block cast to float64, so the inputs are never copied whole and may stay uint8. Peak memory beyond
the inputs is about 8 b (2 D + 3 b) bytes (a batch of queries, one of references, the block and
its temporaries): 0.22 GB for b = 1000 at D = 12288, whatever N and M.
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CopyReport:
    indices: np.ndarray  # (M,) int64: nearest training item of each generated item
    distances: np.ndarray  # (M,) float64: its distance
    threshold: float  # median nearest-neighbour distance within the training set
    share: float  # share of generated items with distance < threshold


def copy_report(fake, real, batch_size=1000):
    """Nearest training item of each generated item, and the share closer than the threshold."""
    fake, real = _checked(fake, "fake"), _checked(real, "real")
    if len(real) < 2:
        raise ValueError(f"the training set needs at least 2 items, got {len(real)}")
    indices, distances = nearest(fake, real, batch_size=batch_size)
    _, own = nearest(real, real, exclude_self=True, batch_size=batch_size)
    # Exact duplicates in a training set (common in scraped data) have distance 0 and say nothing
    # about how far apart distinct items are; with many of them the median would be 0 and no copy
    # could ever be flagged. So the threshold is the median over items with a nonzero distance.
    spaced = own[own > 0]
    if not len(spaced):
        raise ValueError("every training item has an exact duplicate: no spacing to compare with")
    threshold = float(np.median(spaced))
    return CopyReport(indices, distances, threshold, float(np.mean(distances < threshold)))


def nearest(queries, references, exclude_self=False, batch_size=1000):
    """Index and Euclidean distance of the nearest reference of each query: ((Q,), (Q,)).

    exclude_self: queries and references are the same set, and row i is not its own neighbour.
    """
    queries, references = _checked(queries, "queries"), _checked(references, "references")
    if queries.shape[1] != references.shape[1]:
        raise ValueError(f"queries and references differ in dimension: "
                         f"{queries.shape[1]} against {references.shape[1]}")
    if exclude_self and (queries.shape != references.shape or len(references) < 2):
        raise ValueError("exclude_self needs queries and references to be one set of 2 or more")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    # Every batch is cast into one of two reused float64 buffers, so memory does not grow with N.
    q_buf = np.empty((min(batch_size, len(queries)), queries.shape[1]))
    r_buf = np.empty((min(batch_size, len(references)), references.shape[1]))
    ref_sq = np.concatenate([_sq_norms(_into(r_buf, references[i:i + batch_size]))
                             for i in range(0, len(references), batch_size)])
    indices = np.empty(len(queries), np.int64)
    for q0 in range(0, len(queries), batch_size):
        q = _into(q_buf, queries[q0:q0 + batch_size])
        indices[q0:q0 + len(q)] = _nearest_of_batch(q, q0, references, ref_sq, r_buf,
                                                    exclude_self)
    return indices, _exact_distances(queries, references, indices, q_buf)


def _nearest_of_batch(q, q0, references, ref_sq, r_buf, exclude_self):
    """Index of the nearest reference of each row of q (rows q0... of the queries)."""
    best = np.full(len(q), np.inf)
    indices = np.zeros(len(q), np.int64)
    for r0 in range(0, len(references), len(r_buf)):
        r = _into(r_buf, references[r0:r0 + len(r_buf)])
        # |q|^2 is left out of |q|^2 + |r|^2 - 2qr: it does not change which r is nearest.
        block = ref_sq[None, r0:r0 + len(r)] - 2.0 * (q @ r.T)  # (b, c)
        if exclude_self:
            rows = np.arange(max(q0, r0), min(q0 + len(q), r0 + len(r)))
            block[rows - q0, rows - r0] = np.inf
        column = block.argmin(axis=1)
        value = block[np.arange(len(q)), column]
        closer = value < best  # strict: on ties the lower index stays, as with argmin
        best[closer] = value[closer]
        indices[closer] = r0 + column[closer]
    return indices


def _exact_distances(queries, references, indices, buf):
    """|queries[i] - references[indices[i]]|, from the difference itself, batch by batch.

    The expansion that found the neighbours loses digits to rounding (a copy would come out at
    ~1e-6, not 0); the difference gives exact 0 for exact copies.
    """
    distances = np.empty(len(queries))
    for i in range(0, len(queries), len(buf)):
        diff = _into(buf, queries[i:i + len(buf)])
        diff -= references[indices[i:i + len(buf)]]
        distances[i:i + len(diff)] = np.sqrt(_sq_norms(diff))
    return distances


def closest_pairs(report, count=None):
    """(fake index, real index, distance) triples, closest first; ties keep the fake order."""
    order = np.argsort(report.distances, kind="stable")[:count]
    return [(int(i), int(report.indices[i]), float(report.distances[i])) for i in order]


def _checked(x, name):
    x = np.asarray(x)
    if x.ndim != 2 or not len(x):
        raise ValueError(f"{name} must be a non-empty (N, D) array, got shape {x.shape}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    return x


def _into(buf, chunk):
    """chunk cast to float64 in the first rows of buf, without a temporary copy."""
    # float64 sums of uint8 pixels are exact (255^2 x 12288 < 2^53), so pixel distances are too.
    view = buf[:len(chunk)]
    view[...] = chunk
    return view


def _sq_norms(x):
    return np.einsum("ij,ij->i", x, x)
