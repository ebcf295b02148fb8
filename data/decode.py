"""Decoding image files: each file checked, turned upright, brought to sRGB, transparency
composited onto a background, centre-cropped and resized with Pillow; scanning a folder for
them, and decoding a list of files on a thread pool (what the decode-once cache stores).
"""
import io
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image, ImageCms, ImageColor, ImageOps

DECODE_CHUNK = 512  # images decoded per round on the thread pool: bounds what waits in memory
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
DEFAULT_BACKGROUND = (255, 255, 255)  # what transparent pixels become: white, as on a page
SRGB_PROFILE = ImageCms.createProfile("sRGB")


def _has_alpha(im):
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _to_srgb(im):
    """Pixels of a photo with an embedded colour profile (Display P3, Adobe RGB, ...) in sRGB,
    which is what every other image and the networks' outputs are. A profile that cannot be
    read leaves the pixels as stored."""
    profile = im.info.get("icc_profile")
    if not profile or im.mode not in ("RGB", "RGBA"):
        return im
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        return ImageCms.profileToProfile(im, source, SRGB_PROFILE, outputMode=im.mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return im


def _to_uint8_mode(im, channels, background):
    if im.mode.startswith("I;16") or im.mode == "I":  # 16-bit PNG: scale, don't clip, to 8 bits
        wide = np.asarray(im, dtype=np.float64)
        im = Image.fromarray(np.clip(np.rint(wide / 257.0), 0, 255).astype(np.uint8), "L")
    if im.mode in ("P", "CMYK", "YCbCr", "LAB", "HSV", "1"):
        im = im.convert("RGBA" if _has_alpha(im) else "RGB")
    im = _to_srgb(im)
    if _has_alpha(im):
        # convert("RGB") would keep whatever colour a file stores under transparent pixels (often
        # not black: smeared blocks around each emoji); over a background they vanish.
        canvas = Image.new("RGBA", im.size, (*background, 255))
        canvas.alpha_composite(im.convert("RGBA"))
        im = canvas
    return im.convert("L" if channels == 1 else "RGB")


def decode_image(path, size, channels, background=DEFAULT_BACKGROUND):
    """One file -> (size, size, channels) uint8: first frame, turned upright by its EXIF
    orientation, in sRGB, transparency over `background` (an RGB triple), centre square, resized."""
    with Image.open(path) as im:
        im.seek(0)  # the first frame of an animated GIF
        im.draft(None, (size, size))  # JPEG: decode at a reduced scale still >= size
        im.load()  # raises on truncated files
        if min(im.size) < max(2, size // 4):
            raise ValueError(f"too small ({im.size[0]}x{im.size[1]}) to use at {size}x{size}")
        # Cameras store a phone held upright as a sideways image plus a tag; Pillow ignores the tag.
        im = ImageOps.exif_transpose(im)
        im = _to_uint8_mode(im, channels, background)
        side = min(im.size)
        left, top = (im.size[0] - side) // 2, (im.size[1] - side) // 2
        im = im.resize((size, size), Image.Resampling.LANCZOS, box=(left, top, left + side, top + side))
        pixels = np.asarray(im, dtype=np.uint8)
    return pixels.reshape(size, size, channels)


def scan_folder(folder):
    """Candidate image files (sorted) and the files passed over, with the reason."""
    candidates, passed_over = [], []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if name.startswith("."):
                passed_over.append((path, "hidden file"))
            elif not name.lower().endswith(IMAGE_EXTENSIONS):
                passed_over.append((path, "not an image file extension"))
            else:
                candidates.append(path)
    return candidates, passed_over


def background_rgb(value):
    """The config's background (a colour name or #rrggbb, or an RGB triple) as an RGB triple;
    ValueError if unknown."""
    if isinstance(value, (tuple, list)):
        return tuple(int(v) for v in value[:3])
    return ImageColor.getrgb(str(value))[:3]


def _try_decode(path, size, channels, background):
    try:
        return decode_image(path, size, channels, background), None
    except Exception as e:  # Pillow raises many types for broken files; each becomes a reason
        return None, f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def decode_all(candidates, size, channels, background, workers=None):
    """(path, (pixels or None, reason)) for each file, in order, decoded on a thread pool."""
    from utils.console import ProgressReport
    report = ProgressReport(len(candidates), "decoding images", unit_name="image")
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count()) as pool:  # Pillow releases the GIL
        for start in range(0, len(candidates), DECODE_CHUNK):
            chunk = candidates[start:start + DECODE_CHUNK]
            yield from zip(chunk, pool.map(lambda p: _try_decode(p, size, channels, background), chunk))
            report.update(start + len(chunk))

