"""Loading a training set into one uint8 array (N, size, size, channels), decoded once.

Two kinds of source: the IDX .gz files of MNIST and Fashion-MNIST, looked up on disk before
Keras' own download is tried, and folders of image files, each checked, decoded, centre-
cropped and resized with Pillow. A file that cannot be used is reported and skipped.
"""
import gzip
import io
import os
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageColor, ImageOps

from data import cache
from data.labels import (IDX_CLASSES, check_classes_usable, check_idx_labels, folder_classes, holdout_split,
                         read_idx_labels, skipped_per_class)
from utils.errors import UserError

DATA_ROOT = Path(__file__).resolve().parent
DECODE_CHUNK = 512  # images decoded per round on the thread pool: bounds what waits in memory
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
DEFAULT_BACKGROUND = (255, 255, 255)  # what transparent pixels become: white, as on a page
SRGB_PROFILE = ImageCms.createProfile("sRGB")
IDX_IMAGES = "train-images-idx3-ubyte.gz"
# (images file, labels file) of each split; the labels file is looked for beside its images.
IDX_SPLITS = {"train": (IDX_IMAGES, "train-labels-idx1-ubyte.gz"),
              "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
# Where each dataset's IDX files may already be: ours, Keras' download cache, Debian's package.
IDX_DIRS = {
    "fashion_mnist": [DATA_ROOT / "fashion_mnist", Path("~/.keras/datasets/fashion-mnist").expanduser(),
                      Path("/usr/share/datasets/fashion-mnist")],
    "mnist": [DATA_ROOT / "mnist", Path("~/.keras/datasets/mnist").expanduser(),
              Path("/usr/share/datasets/mnist")],
}


@dataclass
class TrainingImages:
    images: np.ndarray  # (N, size, size, channels) uint8
    source: str  # where they came from, for messages
    skipped: list = field(default_factory=list)  # (path, reason) of files that could not be used
    labels: np.ndarray = None  # (N,) int32 class indices for conditional training, else None
    class_names: list = None  # the name of each label, else None

    def skipped_per_class(self):
        """{class name: skipped files} of a labelled folder (None: files directly in it), else None."""
        if self.class_names is None:
            return None
        return skipped_per_class(self.source, self.class_names, self.skipped)


def cache_root(configured=None):
    """Where decoded images and FID statistics are cached: the config's cache_dir, else
    $DCGAN_CACHE_DIR, else data/.cache (git-ignored)."""
    return Path(configured or os.environ.get("DCGAN_CACHE_DIR") or DATA_ROOT / ".cache").expanduser()


def holds_idx(folder):
    return (Path(folder) / IDX_IMAGES).is_file()


def resolve_data_arg(value, dataset):
    """--data NAME_OR_DIR -> config overrides {dataset, data_dir}."""
    if value in IDX_DIRS:
        return {"dataset": value, "data_dir": None}
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise UserError(f"--data {value}: no such folder, and not a dataset name "
                        f"({', '.join(IDX_DIRS)}). Pass a dataset name or a folder of images.")
    if holds_idx(folder):
        idx_dataset = dataset if dataset in IDX_DIRS else "fashion_mnist"
        return {"dataset": idx_dataset, "data_dir": str(folder.resolve())}
    return {"dataset": "folder", "data_dir": str(folder.resolve())}


def read_idx_images(path):
    """The images of an IDX3 file (magic 0x00000803) as (N, rows, cols) uint8."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, count, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != 0x803 or len(raw) != 16 + count * rows * cols:
        raise UserError(f"{path} is not an IDX image file (bad header or size). "
                        f"Replace it with the original {Path(path).name}.")
    return np.frombuffer(raw, np.uint8, offset=16).reshape(count, rows, cols)


def _keras_download(name):
    import keras
    loader = {"fashion_mnist": keras.datasets.fashion_mnist, "mnist": keras.datasets.mnist}[name]
    (train_images, _), _ = loader.load_data()
    return train_images


def load_idx_dataset(name, data_dir=None, download=_keras_download):
    """Training images of mnist or fashion_mnist as (N, 28, 28) uint8 and where they were found."""
    places = ([Path(data_dir)] if data_dir else []) + IDX_DIRS[name]
    for folder in places:
        if holds_idx(folder):
            return read_idx_images(folder / IDX_IMAGES), str(folder)
    try:
        return download(name), "Keras download"
    except Exception as e:  # offline, proxy, partial file: all end in the same advice
        hint = " (on Debian: apt-get install dataset-fashion-mnist)" if name == "fashion_mnist" else ""
        raise UserError(
            f"Could not find the {name} files, and Keras could not download them ({type(e).__name__}). "
            f"Put {IDX_IMAGES} into one of: {', '.join(map(str, places))}{hint}, "
            "or pass a folder holding it with --data DIR.") from None


def _keras_download_labelled(name, split):
    import keras
    loader = {"fashion_mnist": keras.datasets.fashion_mnist, "mnist": keras.datasets.mnist}[name]
    train, test = loader.load_data()
    return train if split == "train" else test


def load_idx_labelled(name, data_dir=None, split="train", download=_keras_download_labelled):
    """Images (N, 28, 28) uint8, labels (N,) int32 and where they were found, of a split ("train"
    or "test", the t10k files) of mnist or fashion_mnist. The labels file must lie beside the
    images file found first, in load_idx_dataset's order of places."""
    images_file, labels_file = IDX_SPLITS[split]
    places = ([Path(data_dir)] if data_dir else []) + IDX_DIRS[name]
    for folder in places:
        if (folder / images_file).is_file():
            labels_path = folder / labels_file
            if not labels_path.is_file():
                raise UserError(f"{folder} holds {images_file} but not {labels_file}, which training with classes "
                                f"needs beside it. Put the {labels_file} of the same dataset into {folder}.")
            images, labels, source = read_idx_images(folder / images_file), read_idx_labels(labels_path), str(folder)
            break
    else:
        try:
            images, labels = download(name, split)
        except Exception as e:  # offline, proxy, partial file: all end in the same advice
            raise UserError(
                f"Could not find the {name} files, and Keras could not download them ({type(e).__name__}). "
                f"Put {images_file} and {labels_file} into one of: {', '.join(map(str, places))}, "
                "or pass a folder holding them with --data DIR.") from None
        labels = np.asarray(labels, np.int32).reshape(-1)
        labels_path, source = f"Keras' {name} labels", "Keras download"
    check_idx_labels(labels, len(images), IDX_CLASSES[name], labels_path)
    return images, labels, source


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


def subset(count, max_images, seed):
    """Sorted indices of a seeded random subset of max_images items (all when 0 or enough)."""
    if not max_images or count <= max_images:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, max_images, replace=False))


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


def _decode_all(candidates, size, channels, background, workers=None):
    """(path, (pixels or None, reason)) for each file, in order, decoded on a thread pool."""
    from utils.console import ProgressReport
    report = ProgressReport(len(candidates), "decoding images", unit_name="image")
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count()) as pool:  # Pillow releases the GIL
        for start in range(0, len(candidates), DECODE_CHUNK):
            chunk = candidates[start:start + DECODE_CHUNK]
            yield from zip(chunk, pool.map(lambda p: _try_decode(p, size, channels, background), chunk))
            report.update(start + len(chunk))


def load_folder(folder, size, channels, max_images=0, seed=0, strict=False, workers=None, cache_dir=None,
                conditional=False, background="white"):
    """A folder's images, decoded once into the cache (cache_root()/images) and read from there.
    conditional: the folder holds one subfolder per class, and the images come with labels.
    background: the colour transparent pixels are composited onto."""
    background = background_rgb(background)
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UserError(f"Image folder {folder} does not exist. Pass an existing folder with --data DIR.")
    candidates, skipped = scan_folder(folder)
    class_names, labels = folder_classes(folder, candidates) if conditional else (None, None)
    keep = subset(len(candidates), max_images, seed)
    candidates = [candidates[i] for i in keep]
    labels = labels[keep] if conditional else None
    entries = cache_root(cache_dir) / "images"
    key = cache.folder_key(folder, candidates, size, channels, labelled=conditional, background=background)
    cached = cache.load(entries, key, labelled=conditional) if candidates else None
    built = cached is None and bool(candidates)
    if built:
        print(f"Decoding {len(candidates)} images of {folder} once; later runs read them from {entries}.")
        cached = cache.build(entries, key, _decode_all(candidates, size, channels, background, workers), size,
                             channels, labels)
    images, failures = cached[:2] if cached else (np.zeros((0, size, size, channels), np.uint8), [])
    usable_labels = cached[2] if conditional and cached else None  # the labels of the rows of images
    skipped += failures
    try:
        _check_usable(folder, images, skipped, strict)
        if conditional:  # _check_usable refused an empty set, so the labels are there
            check_classes_usable(folder, class_names, labels, usable_labels)
    except UserError:
        if built:  # a refused run leaves nothing behind
            cache.discard(entries, key)
        raise
    return TrainingImages(images, str(folder), skipped, usable_labels, class_names)


def _check_usable(folder, images, skipped, strict):
    if strict and skipped:
        listing = "; ".join(f"{p} ({r})" for p, r in skipped[:10])
        raise UserError(f"{len(skipped)} files in {folder} cannot be used (--strict): {listing}"
                        f"{' ...' if len(skipped) > 10 else ''}. Remove or fix them, or drop --strict.")
    if not len(images):
        raise UserError(f"No usable image in {folder} ({len(skipped)} files skipped). Put .jpg, .png, "
                        ".bmp or .gif images in it (subfolders are searched too).")


def conform(images, size, channels):
    """(N, h, w) or (N, h, w, c) uint8 -> (N, size, size, channels) uint8."""
    if images.ndim == 3:
        images = images[..., None]
    if images.shape[1] != size:
        import tensorflow as tf
        chunks = [tf.image.resize(images[i:i + 4096], (size, size), antialias=True)
                  for i in range(0, len(images), 4096)]
        images = np.clip(np.rint(np.concatenate([c.numpy() for c in chunks])), 0, 255).astype(np.uint8)
    if images.shape[-1] != channels:
        images = np.repeat(images, channels, axis=-1) if channels == 3 else \
            np.rint(images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))[..., None].astype(np.uint8)
    return images


def class_names_of(cfg):
    """The class names a conditional session's data has, found without decoding anything: the
    dataset's official names, or an image folder's class subfolders (checked as training checks them)."""
    if cfg["dataset"] != "folder":
        return list(IDX_CLASSES[cfg["dataset"]])
    folder = Path(cfg["data_dir"]).expanduser()
    if not folder.is_dir():
        raise UserError(f"Image folder {folder} does not exist. Pass an existing folder with --data DIR.")
    return folder_classes(folder, scan_folder(folder)[0])[0]


def load_training_images(cfg, strict=False, split="train"):
    """The configured training set, conformed to image_size and channels; with labels and class
    names when cfg["conditional"] is true. With a holdout share, split="train" leaves out the
    held-out images of each class and split="holdout" returns just them."""
    loaded = _load_configured(cfg, strict)
    if not cfg.get("holdout"):
        if split == "holdout":
            raise ValueError("this config holds nothing out")
        return loaded
    labels = loaded.labels if loaded.labels is not None else np.zeros(len(loaded.images), np.int32)
    train, held = holdout_split(labels, cfg["holdout"], cfg["seed"])
    keep = train if split == "train" else held
    return TrainingImages(np.asarray(loaded.images[keep]), loaded.source, loaded.skipped,
                          None if loaded.labels is None else loaded.labels[keep], loaded.class_names)


def _load_configured(cfg, strict):
    size, channels = cfg["image_size"], cfg["channels"]
    conditional = bool(cfg.get("conditional"))
    if cfg["dataset"] == "folder":
        return load_folder(cfg["data_dir"], size, channels, cfg["max_images"], cfg["seed"], strict,
                           cache_dir=cfg["cache_dir"], conditional=conditional, background=cfg["background"])
    if conditional:
        images, labels, source = load_idx_labelled(cfg["dataset"], cfg["data_dir"])
        keep = subset(len(images), cfg["max_images"], cfg["seed"])
        return TrainingImages(conform(images[keep], size, channels), source, [], labels[keep],
                              list(IDX_CLASSES[cfg["dataset"]]))
    images, source = load_idx_dataset(cfg["dataset"], cfg["data_dir"])
    images = images[subset(len(images), cfg["max_images"], cfg["seed"])]
    return TrainingImages(conform(images, size, channels), source)
