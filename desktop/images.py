"""Images for the window: a data set's example grid, read from disk only, and fitting an image
into one of the window's boxes."""
import functools
from pathlib import Path

import numpy as np
from PIL import Image

from data.decode import DEFAULT_BACKGROUND, background_rgb, decode_image, scan_folder
from data.idx import load_idx
from training import config as config_lib
from utils import imaging
from utils.errors import UserError

EXAMPLES = 21  # thumbnails in the data set panel, 7 x 3
EXAMPLE_COLUMNS = 7
FOLDER_EXAMPLE_SIZE = 64  # a browsed folder has no session yet: shown at 64x64 RGB


def fit_image(image, box):
    """A PIL image scaled to fit box (width, height). Enlarging is by a whole factor with nearest
    neighbours, so 28x28 tiles stay crisp; shrinking is smooth."""
    scale = min(box[0] / image.width, box[1] / image.height)
    if scale >= 1:
        factor = int(scale)
        return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
    size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _no_download(name, split):
    raise RuntimeError("the app shows examples only from files already on disk")


def _spread(count, wanted):
    """Indices of `wanted` items spread over `count` (all when fewer), seeded so they stay put."""
    if count <= wanted:
        return np.arange(count)
    return np.sort(np.random.default_rng(0).choice(count, wanted, replace=False))


@functools.lru_cache(maxsize=8)
def example_grid(dataset, data_dir, size, channels, background=DEFAULT_BACKGROUND):
    """A (H, W, C) uint8 grid of about 21 training images, as the network sees them (cropped,
    resized, transparency over the background); UserError when the data cannot be found. Never
    downloads."""
    if dataset == "folder":
        candidates, _ = scan_folder(data_dir) if Path(data_dir).is_dir() else ([], [])
        tiles = []
        for index in _spread(len(candidates), 3 * EXAMPLES):  # extra picks stand in for broken files
            try:
                tiles.append(decode_image(candidates[index], size, channels, background_rgb(background)))
            except Exception:  # Pillow raises many types; a broken file is just not shown
                continue
            if len(tiles) == EXAMPLES:
                break
        if not tiles:
            raise UserError(f"No usable image in {data_dir}: it needs .jpg, .png, .bmp or .gif files.")
        tiles = np.stack(tiles)
    else:
        images, _, _ = load_idx(dataset, data_dir, download=_no_download)
        tiles = images[_spread(len(images), EXAMPLES)][..., None]  # IDX files are 28x28 grayscale
    return imaging.grid(tiles, columns=min(EXAMPLE_COLUMNS, len(tiles)))


def examples_for(cfg=None, data_folder=None):
    """The example grid of a browsed folder, else of a session's (or the default) config."""
    if data_folder:
        return example_grid("folder", str(data_folder), FOLDER_EXAMPLE_SIZE, 3)
    cfg = cfg or config_lib.load_config()
    return example_grid(cfg["dataset"], cfg["data_dir"], cfg["image_size"], cfg["channels"], cfg["background"])
