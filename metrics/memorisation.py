"""Does a generator hand back its training images? The copy check of compute_fid.py --copies.

Each generated image is paired with its nearest real image (metrics.copies) in two spaces:
Inception features, where a copy that is shifted, recoloured or re-encoded still lands close, and,
for images of at most PIXEL_LIMIT pixels a side, the flattened uint8 pixels, where "close" means
close pixel by pixel and needs no network to believe. In each space an image counts as a copy
when its nearest real image is closer than the median distance between a real image and its
nearest other real image. The grid shows the closest pairs in feature space for a person to judge:
a share alone cannot tell a copy from a generator that is simply good.
"""
from dataclasses import dataclass

import numpy as np

from metrics import copies
from utils import imaging
from utils.errors import UserError

PIXEL_LIMIT = 64  # 64x64x3 = 12288 values an image: larger images are compared in features only
GRID_PAIRS = 32  # enough pairs to see a pattern, few enough to look at each
GRID_COLUMNS = 4  # pairs a row


@dataclass(frozen=True)
class CopyCheck:
    features: copies.CopyReport
    pixels: copies.CopyReport  # None when the images are larger than PIXEL_LIMIT
    grid: np.ndarray  # (H, W, C) uint8: the closest pairs, generated left, real right


def check(fake, real, pairs=GRID_PAIRS):
    """CopyCheck of fake against real, each a metrics.sources.Images of equally shaped images."""
    if fake.pixels.shape[1:] != real.pixels.shape[1:]:
        raise ValueError(f"generated images {fake.pixels.shape[1:]} and real ones {real.pixels.shape[1:]} differ")
    by_features = _report(fake.features, real.features, "Inception features")
    by_pixels = None
    if max(fake.pixels.shape[1:3]) <= PIXEL_LIMIT:
        # Flattened views of the uint8 images: metrics.copies casts them batch by batch, so no
        # float copy of the whole set is made.
        by_pixels = _report(fake.pixels.reshape(len(fake.pixels), -1), real.pixels.reshape(len(real.pixels), -1),
                            "pixels")
    return CopyCheck(by_features, by_pixels, pairs_grid(fake.pixels, real.pixels, by_features, pairs))


def _report(fake, real, space):
    try:
        return copies.copy_report(fake, real)
    except ValueError as e:  # what a user can meet: a real set whose every image has an exact twin
        raise UserError(f"--copies cannot measure how far apart the real images are in {space} ({e}). "
                        "Pass a real set of distinct images.") from None


def pairs_grid(fake_pixels, real_pixels, report, pairs=GRID_PAIRS, columns=GRID_COLUMNS):
    """The closest `pairs` of report as one image, closest first in reading order: each pair is
    the generated image, a 1-pixel gap and its nearest real image; pairs are 5 pixels apart."""
    return pairs_image([(fake_pixels[f], real_pixels[r]) for f, r, _ in copies.closest_pairs(report, pairs)], columns)


def pairs_image(pairs, columns=GRID_COLUMNS):
    """(generated, real) uint8 image pairs, in reading order, as one image: each pair is the
    generated image, a 1-pixel gap and the real one; pairs are 5 pixels apart."""
    tiles = np.stack([imaging.grid(np.stack(pair), columns=2, pad=1) for pair in pairs])
    scale = imaging.view_scale(max(pairs[0][0].shape[:2]))
    return imaging.grid(tiles, columns=min(columns, len(tiles)), pad=3, scale=scale)


def save_grid(path, image):
    try:
        imaging.write_png(path, image)
    except OSError as e:
        raise UserError(f"Cannot write the copies grid to {path} ({e.strerror or e}). "
                        "Pass --copies-grid FILE in a writable folder.") from None
