"""The two sides compute_fid.py compares, real and fake: what each is, and how it is measured.

A side is a statistics file, an image set (metrics.sources) or a session's generator. Its label is
printed before it is measured, because extracting features can take minutes. The copy check
(--copies) also needs some of each side's images beside their features, so measuring takes a
count: None when no images are wanted, 0 for all of them, else that many.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from metrics import fid, sources
from utils.errors import UserError


@dataclass(frozen=True)
class Measured:
    stats: fid.Stats
    origin: str  # printed after the count: "generated", "statistics file", "statistics from the cache ..."
    images: sources.Images = None  # only when a count was asked for


@dataclass(frozen=True)
class Side:
    label: str  # "folder data/hands", "session 2 at epoch 40 (seed 0)", ...
    compute: Callable  # (extractor, keep_features, count) -> Measured


def named(text, size, channels, num, cache_dir, images_wanted=False):
    """The side --real/--fake TEXT names when it is no session: a .npz statistics file, else an
    image set brought to size x size x channels, up to num images of it."""
    if text.lower().endswith(".npz") or Path(text).is_file():  # --save-stats FILE may lack the suffix
        if not Path(text).is_file():
            raise UserError(f"Statistics file {text} does not exist.")
        if images_wanted:
            raise UserError(f"--copies compares images, and {text} holds only statistics. Pass the image folder "
                            "or dataset it was computed from, or drop --copies.")
        return Side(text, lambda extractor, keep, count: Measured(sources.stats_file(text, extractor, keep),
                                                                  "statistics file"))
    return image_set(sources.image_source(text, size, channels, num), cache_dir)


def image_set(source, cache_dir):
    """A sources.ImageSource, its statistics read from or written to cache_dir (None: no cache)."""
    def compute(extractor, keep, count):
        if count is None:
            return Measured(*sources.source_stats(source, extractor, cache_dir, keep))
        return Measured(*sources.source_stats_with_images(source, extractor, cache_dir, count))
    return Side(source.label, compute)


def generated(label, generator, cfg, num, seed, labels=None):
    """num images of a session's generator from seed; labels: their classes, for a conditional one."""
    def compute(extractor, keep, count):
        if count is None:
            return Measured(sources.generator_stats(generator, cfg, num, extractor, seed, keep, labels), "generated")
        stats, images = sources.generator_stats_with_images(generator, cfg, num, extractor, seed, count, labels)
        return Measured(stats, "generated", images)
    return Side(label, compute)
