"""Loading a training set into one uint8 array (N, size, size, channels), decoded once.

Two kinds of source: the IDX .gz files of MNIST and Fashion-MNIST (data.idx), and folders of
image files (decoded by data.decode into the decode-once cache, data.cache). A file that cannot
be used is reported and skipped. A session's config then selects its training images: a seeded
subset (max_images), the holdout share left out, and at most class_counts images of each class.
"""
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data import cache
from data.decode import DEFAULT_BACKGROUND, background_rgb, decode_all, scan_folder
from data.idx import DATA_ROOT, IDX_CLASSES, IDX_DIRS, holds_idx, load_idx
from data.labels import (check_class_counts, check_classes_usable, class_subset, folder_classes, holdout_split,
                         skipped_per_class)
from utils.errors import UserError


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


def subset(count, max_images, seed):
    """Sorted indices of a seeded random subset of max_images items (all when 0 or enough)."""
    if not max_images or count <= max_images:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, max_images, replace=False))


def load_folder(folder, size, channels, max_images=0, seed=0, strict=False, workers=None, cache_dir=None,
                conditional=False, background=DEFAULT_BACKGROUND):
    """A folder's images, decoded once into the cache (cache_root()/images) and read from there.
    conditional: the folder holds one subfolder per class, and the images come with labels.
    background: the colour transparent pixels are composited onto."""
    background = background_rgb(background)
    folder = _image_folder(folder)
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
        cached = cache.build(entries, key, decode_all(candidates, size, channels, background, workers), size,
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


def _image_folder(folder):
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UserError(f"Image folder {folder} does not exist. Pass an existing folder with --data DIR.")
    return folder


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
    folder = _image_folder(cfg["data_dir"])
    return folder_classes(folder, scan_folder(folder)[0])[0]


def load_training_images(cfg, strict=False, split="train"):
    """The configured training set, conformed to image_size and channels; with labels and class
    names when cfg["conditional"] is true. With a holdout share, split="train" leaves out the
    held-out images of each class and split="holdout" returns just them. class_counts (a
    conditional session's) then keeps a seeded subset of at most that many of each class of the
    training split: what training, and every metric of "the session's training images", sees."""
    loaded = _load_configured(cfg, strict)
    if cfg.get("holdout"):
        labels = loaded.labels if loaded.labels is not None else np.zeros(len(loaded.images), np.int32)
        train, held = holdout_split(labels, cfg["holdout"], cfg["seed"])
        loaded = _rows(loaded, train if split == "train" else held)
    elif split == "holdout":
        raise ValueError("this config holds nothing out")
    if split == "train" and cfg.get("class_counts"):
        check_class_counts(cfg["class_counts"], loaded.class_names)
        loaded = _rows(loaded, class_subset(loaded.labels, cfg["class_counts"], cfg["seed"]))
    return loaded


def _rows(loaded, rows):
    """The TrainingImages of these rows of loaded (read into memory)."""
    return TrainingImages(np.asarray(loaded.images[rows]), loaded.source, loaded.skipped,
                          None if loaded.labels is None else loaded.labels[rows], loaded.class_names)


def _load_configured(cfg, strict):
    size, channels = cfg["image_size"], cfg["channels"]
    conditional = bool(cfg.get("conditional"))
    if cfg["dataset"] == "folder":
        return load_folder(cfg["data_dir"], size, channels, cfg["max_images"], cfg["seed"], strict,
                           cache_dir=cfg["cache_dir"], conditional=conditional, background=cfg["background"])
    images, labels, source = load_idx(cfg["dataset"], cfg["data_dir"], labelled=conditional)
    keep = subset(len(images), cfg["max_images"], cfg["seed"])
    if not conditional:
        return TrainingImages(conform(images[keep], size, channels), source)
    return TrainingImages(conform(images[keep], size, channels), source, [], labels[keep],
                          list(IDX_CLASSES[cfg["dataset"]]))
