"""Turning generator output into files: uint8 conversion, grids, and writes that are atomic.

An atomic write goes to a hidden temporary file in the target folder and is renamed over the
target, so a killed process leaves either the old file or the new one, never half of one.
"""
import math
import os
import tempfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np


CLASS_GRID_COLUMNS = 8  # images of each class in a grid with a row per class
UNCONDITIONAL_GRID = 64  # images in a grid of an unconditional session
GRID_SIDE = 64  # smaller images are scaled up (nearest neighbour) in a grid to about this, to be seen


def to_uint8(images):
    """Generator output in [-1, 1] -> uint8 [0, 255], rounded to nearest (not truncated)."""
    return np.clip(np.rint((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def view_scale(side):
    """The whole factor that brings images of `side` pixels to about GRID_SIDE (1 for larger ones)."""
    return max(1, GRID_SIDE // side)


def grid(images, columns=None, pad=2, scale=1):
    """(N, H, W, C) uint8 -> one (rows*(H+pad)+pad, ...) image; grayscale stays one channel."""
    count, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    canvas = np.full((rows * (height + pad) + pad, columns * (width + pad) + pad, channels), 255, np.uint8)
    for i, image in enumerate(images):
        top, left = pad + (i // columns) * (height + pad), pad + (i % columns) * (width + pad)
        canvas[top:top + height, left:left + width] = image
    if scale > 1:  # nearest-neighbour, so small images stay crisp when viewed
        canvas = canvas.repeat(scale, axis=0).repeat(scale, axis=1)
    return canvas


def _umask():
    """The process's umask, read without changing it (os.umask can only be read by setting it,
    which would race with files other threads create meanwhile)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def name_rows(canvas, names, row_height, pad=2):
    """The grid `canvas` with a white margin on the left holding one name per row of tiles
    (row_height pixels each, after the top pad), so each row's class can be read at a glance."""
    from PIL import Image, ImageDraw, ImageFont
    font = ImageFont.load_default()
    draw_probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    margin = 8 + max(int(draw_probe.textlength(name, font=font)) for name in names)
    height, width, channels = canvas.shape
    labelled = np.full((height, width + margin, channels), 255, np.uint8)
    labelled[:, margin:] = canvas
    picture = Image.fromarray(labelled[..., 0] if channels == 1 else labelled)
    draw = ImageDraw.Draw(picture)
    for row, name in enumerate(names):
        middle = pad + row * row_height + (row_height - pad) // 2
        draw.text((4, middle), name, fill=0 if channels == 1 else (0, 0, 0), font=font, anchor="lm")
    result = np.asarray(picture)
    return result[..., None] if channels == 1 else result


def class_grid(tiles, row_names, pad=2):
    """(rows * columns, H, W, C) uint8 tiles, row by row -> a grid with each row's class name beside it,
    small tiles enlarged (nearest neighbour) to about GRID_SIDE pixels so the grid is viewable."""
    scale = view_scale(tiles.shape[1])
    columns = len(tiles) // len(row_names)
    canvas = grid(tiles, columns=columns, pad=pad, scale=scale)
    return name_rows(canvas, row_names, (tiles.shape[1] + pad) * scale, pad * scale)


def training_grid(images, labels=None, class_names=None, seed=0):
    """A grid of training images as the networks see them: UNCONDITIONAL_GRID spread over the set,
    or with labels a row per class of its first CLASS_GRID_COLUMNS (blank where a class has fewer)."""
    rng = np.random.default_rng(seed)
    if labels is None:
        pick = np.sort(rng.choice(len(images), min(len(images), UNCONDITIONAL_GRID), replace=False))
        tiles = np.asarray(images[pick])
        return grid(tiles, scale=view_scale(tiles.shape[1]))
    blank = np.full((1, *images.shape[1:]), 255, np.uint8)
    rows = []
    for index in range(len(class_names)):
        members = np.flatnonzero(np.asarray(labels) == index)[:CLASS_GRID_COLUMNS]
        shown = np.asarray(images[members]) if len(members) else blank[:0]
        rows.append(np.concatenate([shown, np.repeat(blank, CLASS_GRID_COLUMNS - len(shown), axis=0)]))
    return class_grid(np.concatenate(rows), list(class_names))


def write_atomic(path, write):
    """Call write(temporary_path), then rename it to path. The temporary name is unique, so two
    processes writing the same target never write into one file. The file gets the mode any
    program's new file gets (0666 less the umask): mkstemp's own 0600 would hide a session from
    the colleagues, web servers and backups that read it."""
    path = Path(path)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".partial{path.suffix}")
    os.fchmod(handle, 0o666 & ~_umask())
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def write_png(path, image):
    """Write an (H, W, C) uint8 image as an 8-bit PNG, grayscale when C == 1."""
    image = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
    write_atomic(path, lambda target: iio.imwrite(target, image, extension=".png"))
