"""Near-copies of training images among generated ones: what generate_img.py --reject-copies drops.

A generated image is a near-copy when, in one of the spaces it is compared in, its nearest
training image (distance d1) is both
  closer than almost any two training images are to each other: d1 below the PERCENTILE-th
      percentile of the training set's own leave-one-out nearest-neighbour distances (exact
      duplicates left out, as metrics.copies does), and
  much closer than its next nearest ones: d1 < RELATIVE x the mean distance to its training
      neighbours of ranks 2..K. This relative rule follows Carlini et al. (2023, "Extracting
      training data from diffusion models"), who measure a generation's distance to its nearest
      training image against its mean distance to the next nearest ones (RELATIVE and K here are
      this project's choice): an image in a dense region of the training set (many near-identical
      training images) is close to all of them and is not dropped for being there; a copy is
      close to one.
The spaces: the standard Inception features always, and the flattened uint8 pixels for images of
memorisation.PIXEL_LIMIT or less a side (proof pixel by pixel, but blind to a shifted copy).
compute_fid.py --copies' threshold, the median, would drop about half of a fresh real sample; the
default percentile was measured with bench/copy_filter.py (bench/README.md, copy-filter).

The training set's features, its pixels (when compared) and its own nearest-neighbour distances
are computed once per data set and network and kept as .npy files in the statistics cache; they
are read as memory maps, block by block, so memory stays flat for any training set and any NUM
(nearest_k of 256 queries allocated at most 34 MB against 5,000 and against 20,000 references).
"""
import hashlib
import heapq
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data import datasets
from metrics import copies, memorisation, sources
from metrics.fid_inception import FEATURES
from utils.console import ProgressReport
from utils.errors import UserError

# Of the training set's own nearest-neighbour distances. bench/copy_filter.py on Fashion-MNIST, 1000
# training images and 1000 unseen real ones: percentile 0.5 / 1 / 2 / 5 drops 0.3 / 0.4 / 0.8 / 1.4%
# of the unseen images (the absolute rule alone 0.6 / 1.4 / 2.5 / 6.4%); at 2000/2000, 0.40 / 0.55 /
# 0.80 / 1.10% (1.15 / 2.25 / 4.0 / 8.45%).
PERCENTILE = 1.0
RELATIVE = 0.5  # d1 below this share of the mean distance to the neighbours of ranks 2..K
K = 50
MAX_DRAWS = 10  # a class stops after drawing 10 x NUM (+ 1000) images without NUM passing
FORMAT = "near-copies v1"  # what the cache entries hold: a change makes old entries miss
CHUNK = 500  # training images per feature batch while the cache entry is built


def nearest_k(queries, references, k, exclude_self=False, batch_size=1000):
    """Indices and Euclidean distances of the k nearest references of each query, nearest first:
    ((Q, k) int64, (Q, k) float64), k capped at the references there are. Block by block, as
    metrics.copies.nearest; the nearest one's distance is exact (0 for an exact copy), the others
    come from |q|^2 + |r|^2 - 2qr. exclude_self: queries and references are one set."""
    n = len(references)
    k = min(k, n - 1 if exclude_self else n)
    if k < 1:
        raise ValueError("needs at least one reference besides the query itself")
    q_buf = np.empty((min(batch_size, len(queries)), references.shape[1]))
    r_buf = np.empty((min(batch_size, n), references.shape[1]))
    ref_sq = np.concatenate([copies._sq_norms(copies._into(r_buf, references[i:i + batch_size]))
                             for i in range(0, n, batch_size)])
    indices, squares = np.empty((len(queries), k), np.int64), np.empty((len(queries), k))
    for q0 in range(0, len(queries), batch_size):
        q = copies._into(q_buf, queries[q0:q0 + batch_size])
        best_sq, best_i = np.full((len(q), 0), np.inf), np.empty((len(q), 0), np.int64)
        for r0 in range(0, n, len(r_buf)):
            r = copies._into(r_buf, references[r0:r0 + len(r_buf)])
            block = ref_sq[None, r0:r0 + len(r)] - 2.0 * (q @ r.T)  # (b, c), |q|^2 added below
            if exclude_self:
                rows = np.arange(max(q0, r0), min(q0 + len(q), r0 + len(r)))
                block[rows - q0, rows - r0] = np.inf
            candidates = np.concatenate([best_sq, block], axis=1)
            ids = np.concatenate([best_i, np.broadcast_to(np.arange(r0, r0 + len(r)), block.shape)], axis=1)
            keep = np.argpartition(candidates, k - 1, axis=1)[:, :k] if candidates.shape[1] > k else \
                np.broadcast_to(np.arange(candidates.shape[1]), (len(q), candidates.shape[1]))
            best_sq, best_i = np.take_along_axis(candidates, keep, 1), np.take_along_axis(ids, keep, 1)
        order = np.argsort(best_sq, axis=1, kind="stable")
        indices[q0:q0 + len(q)] = np.take_along_axis(best_i, order, 1)
        squares[q0:q0 + len(q)] = np.take_along_axis(best_sq, order, 1) + copies._sq_norms(q)[:, None]
    distances = np.sqrt(np.clip(squares, 0.0, None))
    distances[:, 0] = copies._exact_distances(queries, references, indices[:, 0], q_buf)
    return indices, distances


def threshold(own, percentile):
    """The percentile of the training set's own nearest-neighbour distances, exact duplicates left out."""
    spaced = own[own > 0]
    if not len(spaced):
        raise UserError("Every training image has an exact duplicate in the training set, so there is no spacing "
                        "to compare generated images with; --reject-copies needs distinct training images.")
    return float(np.percentile(spaced, percentile))


@dataclass
class Space:
    name: str  # "Inception features" or "pixels"
    references: np.ndarray  # (N, D) training vectors (a memory map)
    own: np.ndarray  # (N,) each training vector's distance to its nearest other one
    threshold: float


@dataclass
class Verdict:
    near: np.ndarray  # (Q,) bool: a near-copy in some space
    absolute: np.ndarray  # (Q,) bool: d1 below the threshold in some space (the relative rule left out)
    index: np.ndarray  # (Q,) nearest training image in features
    distance: np.ndarray  # (Q,) its distance


def judge(vectors, spaces):
    """Verdict of queries given as one (Q, D) array per space, in the order of `spaces`."""
    near = absolute = None
    for query, space in zip(vectors, spaces):
        indices, distances = nearest_k(query, space.references, K)
        d1 = distances[:, 0]
        # Fewer than 2 references leave no ranks 2..K: the absolute rule alone decides.
        rest = distances[:, 1:].mean(axis=1) if distances.shape[1] > 1 else np.full(len(d1), np.inf)
        below = d1 < space.threshold
        near_here = below & (d1 < RELATIVE * rest)
        if near is None:
            near, absolute, index, distance = near_here, below, indices[:, 0], d1
        else:
            near, absolute = near | near_here, absolute | below
    return Verdict(near, absolute, index, distance)


def uses_pixels(image_shape):
    return max(image_shape[:2]) <= memorisation.PIXEL_LIMIT


class Reference:
    """A session's training set as the filter compares with it: one Space per space, and the
    training images for the grid of dropped pairs."""

    def __init__(self, folder, percentile, images=None):
        meta = json.loads((Path(folder) / "meta.json").read_text())
        self.shape, self.folder = tuple(meta["shape"]), Path(folder)
        self.spaces = []
        for name, stem in (("Inception features", "features"), ("pixels", "pixels")):
            if (self.folder / f"{stem}.npy").is_file():
                refs = np.load(self.folder / f"{stem}.npy", mmap_mode="r")
                own = np.load(self.folder / f"own_{stem}.npy")
                self.spaces.append(Space(name, refs, own, threshold(own, percentile)))
        self._images = images

    def __len__(self):
        return len(self.spaces[0].references)

    def image(self, index, load):
        """Training image `index` (H, W, C) uint8: from the cached pixels, else from load() (kept)."""
        if len(self.spaces) > 1:
            return np.asarray(self.spaces[1].references[index]).reshape(self.shape)
        if self._images is None:
            self._images = load()
        return np.asarray(self._images[index])


def reference(cfg, extractor, percentile=PERCENTILE, cache_dir=None):
    """The Reference of a session config's training set, from the cache under
    sources.stats_cache (cache_dir: another root), built there first when missing."""
    key = dict(sources.training_source(cfg, num=0).key, features=extractor.identity, format=FORMAT)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    folder = Path(cache_dir or sources.stats_cache(cfg["cache_dir"])) / "near_copies" / digest
    try:
        complete = json.loads((folder / "meta.json").read_text()).get("key") == key
    except (OSError, ValueError):
        complete = False
    if complete:
        print(f"Training set's features for the copy check: from the cache {folder}")
    else:
        _build(folder, key, datasets.load_training_images(cfg), extractor)
    return Reference(folder, percentile)


def _build(folder, key, loaded, extractor):
    """Write the cache entry: features.npy, own_features.npy, pixels.npy and own_pixels.npy (small
    images), then meta.json, the mark of a complete entry, into a temporary folder renamed at the end."""
    images, count = loaded.images, len(loaded.images)
    if count < 2:
        raise UserError(f"The training set {loaded.source} has {count} image(s); --reject-copies needs at least 2 "
                        "to know how far apart training images are.")
    temporary = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        temporary.mkdir(parents=True)
    except OSError as e:
        raise UserError(f"Cannot create {temporary} for the copy check's cache ({e.strerror}). Set cache_dir in "
                        "the session's config, or $DCGAN_CACHE_DIR, to a writable folder.") from None
    print(f"Computing the Inception features of the {count} training images for the copy check, once "
          f"(cached in {folder}):")
    shape = tuple(images.shape[1:])
    features = np.lib.format.open_memmap(temporary / "features.npy", "w+", np.float32, (count, FEATURES))
    pixels = np.lib.format.open_memmap(temporary / "pixels.npy", "w+", np.uint8, (count, int(np.prod(shape)))) \
        if uses_pixels(shape) else None
    progress = ProgressReport(count, "training images", unit_name="image")
    for start in range(0, count, CHUNK):
        chunk = np.asarray(images[start:start + CHUNK])
        features[start:start + len(chunk)] = extractor.features(chunk)
        if pixels is not None:
            pixels[start:start + len(chunk)] = chunk.reshape(len(chunk), -1)
        progress.update(start + len(chunk))
    for stem, vectors in (("features", features), ("pixels", pixels)):
        if vectors is not None:
            vectors.flush()
            _, own = nearest_k(vectors, vectors, 1, exclude_self=True)
            np.save(temporary / f"own_{stem}.npy", own[:, 0])
    del features, pixels
    (temporary / "meta.json").write_text(json.dumps({"key": key, "shape": list(shape), "count": count}))
    shutil.rmtree(folder, ignore_errors=True)  # an entry of an older key under the same name
    os.replace(temporary, folder)


class Filter:
    """Screens batches of generated uint8 images against a Reference: call it with a batch (and the
    class it is of) to get the mask of images to keep. Counts what it drew and dropped per class
    and keeps the GRID_PAIRS closest dropped pairs (closest in features) for the grid."""

    def __init__(self, reference, extractor, pairs=memorisation.GRID_PAIRS):
        self.reference, self.extractor, self.pairs = reference, extractor, pairs
        self.drawn, self.dropped = {}, {}  # {class name or None: images}
        self._closest = []  # a heap of (-distance, sequence number, generated image, training index)
        self._seen = 0

    def budget(self, count):
        """The most images one class (or an unconditional run) draws to find `count` that pass."""
        return MAX_DRAWS * count + 1000

    def __call__(self, tiles, class_name=None):
        flat = tiles.reshape(len(tiles), -1)
        vectors = [self.extractor.features(tiles), flat][:len(self.reference.spaces)]
        verdict = judge(vectors, self.reference.spaces)
        self.drawn[class_name] = self.drawn.get(class_name, 0) + len(tiles)
        self.dropped[class_name] = self.dropped.get(class_name, 0) + int(verdict.near.sum())
        for i in np.flatnonzero(verdict.near):
            entry = (-float(verdict.distance[i]), self._seen + int(i), tiles[i].copy(), int(verdict.index[i]))
            (heapq.heappush if len(self._closest) < self.pairs else heapq.heappushpop)(self._closest, entry)
        self._seen += len(tiles)
        return ~verdict.near

    def shortfall(self, count, written, class_name):
        of = "" if class_name is None else f" of class {class_name}"
        return UserError(f"Only {written} of {count} images{of} passed the copy check after drawing "
                         f"{self.drawn.get(class_name, 0)}: the generator mostly reproduces training images"
                         f"{f' (the {written} written are kept)' if written else ''}. Use an earlier checkpoint "
                         "(--epoch), or a lower --copy-percentile.")

    def closest(self):
        """(generated image, training index, feature distance) of the dropped pairs, closest first."""
        return [(tile, index, -negative) for negative, _, tile, index in sorted(self._closest, reverse=True)]

    def grid(self, load_training):
        """The dropped pairs as one image (generated left, nearest training image right), or None."""
        pairs = [(tile, self.reference.image(index, load_training)) for tile, index, _ in self.closest()]
        return memorisation.pairs_image(pairs) if pairs else None

    def report_lines(self):
        lines = []
        for name, drawn in self.drawn.items():
            dropped = self.dropped[name]
            what = "" if name is None else f"{name}: "
            lines.append(f"  {what}{dropped} of {drawn} generated images dropped as near-copies "
                         f"({100 * dropped / drawn:.1f}%)")
        return lines
