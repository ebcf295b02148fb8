"""Decode-once cache of an image folder: the decoded uint8 images as raw rows in one file.

A cache entry is keyed by the folder's file list (relative paths, sizes, modification times) and
the target size and channels, so any change to the folder gives a new key and a rebuild. An
entry of a labelled (conditional) load has its own key and keeps each row's class label in its
metadata beside the decode failures. The key also names the decoding rules (FORMAT) and the
background transparent pixels are composited onto, so entries decoded under other rules are
decoded again. Rows are read a batch at a time with pread, so memory stays flat however many images
there are (np.memmap would do the reading too, but every page it touches counts towards the
process's memory, which then grows with the image count).
"""
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from data.decode import DEFAULT_BACKGROUND
from utils import imaging

# Bump when decoding changes, so old entries are not reused. 2: EXIF orientation applied, colour
# profiles converted to sRGB, transparency composited onto a background (part of the key).
FORMAT = 2


def folder_key(folder, paths, size, channels, labelled=False, background=DEFAULT_BACKGROUND):
    """A hex digest naming the decoded form of these files of `folder` (with labels: labelled)."""
    listing = []
    for path in paths:
        stat = os.stat(path)
        listing.append([os.path.relpath(path, folder), stat.st_size, stat.st_mtime_ns])
    identity = {"format": FORMAT, "size": size, "channels": channels, "background": list(background),
                "files": listing}
    if labelled:  # only then: an unlabelled entry keeps the key it had before labels existed
        identity["labelled"] = True
    text = json.dumps(identity)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class CachedImages:
    """(N, size, size, channels) uint8 images in a file; indexing with an index array reads those rows."""

    def __init__(self, path, count, size, channels):
        self.path = Path(path)
        self.shape = (count, size, size, channels)
        self.dtype = np.dtype(np.uint8)
        self._row = size * size * channels
        self._fd = os.open(self.path, os.O_RDONLY)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, index):
        if isinstance(index, slice):
            index = np.arange(len(self))[index]
        index = np.asarray(index)
        if index.ndim == 0:
            return self[index[None]][0]
        rows = np.empty((len(index), self._row), np.uint8)
        for i, row in enumerate(index):  # pread: no shared file offset, safe from any thread
            rows[i] = np.frombuffer(os.pread(self._fd, self._row, int(row) * self._row), np.uint8)
        return rows.reshape((len(index),) + self.shape[1:])

    def __array__(self, dtype=None, copy=None):  # np.asarray(cached) reads everything: for small sets and tests
        return self[np.arange(len(self))]

    def __del__(self):
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)


def load(cache_dir, key, labelled=False):
    """(CachedImages, decode failures) of a complete entry, or None; labelled: (CachedImages,
    decode failures, labels (N,) int32), or None when the entry holds no labels for its rows."""
    meta_path = Path(cache_dir) / f"{key}.json"
    try:
        meta = json.loads(meta_path.read_text())
        images = CachedImages(Path(cache_dir) / f"{key}.u8", meta["count"], meta["size"], meta["channels"])
        labels = np.array(meta["labels"], np.int32) if labelled else None
    except (OSError, ValueError, KeyError):  # missing, or half of an entry: rebuild it
        return None
    if os.path.getsize(images.path) != len(images) * images._row:
        return None
    skipped = [tuple(item) for item in meta["skipped"]]
    if not labelled:
        return images, skipped
    return (images, skipped, labels) if labels.shape == (len(images),) else None


def discard(cache_dir, key):
    for suffix in (".json", ".u8"):  # metadata first: without it the entry no longer counts
        (Path(cache_dir) / f"{key}{suffix}").unlink(missing_ok=True)


def build(cache_dir, key, decoded, size, channels, labels=None):
    """Write the images that `decoded` yields ((path, (pixels or None, reason))) to a new entry;
    labels, if given, holds one label per item decoded, and the entry keeps those of the rows.

    The rows go straight to disk; the entry appears (data, then the metadata that makes it
    count) only once complete. Returns what load() returns.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    count, skipped, kept = 0, [], []
    labelled = labels is not None

    def write_rows(target):
        nonlocal count
        items = zip(decoded, labels, strict=True) if labelled else ((item, None) for item in decoded)
        with open(target, "wb") as f:
            for (path, (pixels, reason)), label in items:
                if pixels is None:
                    skipped.append((path, reason))
                else:
                    f.write(pixels.tobytes())
                    kept.append(label)
                    count += 1

    imaging.write_atomic(cache_dir / f"{key}.u8", write_rows)
    meta = {"count": count, "size": size, "channels": channels, "skipped": skipped}
    if labelled:
        meta["labels"] = [int(label) for label in kept]
    imaging.write_atomic(cache_dir / f"{key}.json", lambda t: Path(t).write_text(json.dumps(meta)))
    return load(cache_dir, key, labelled)
