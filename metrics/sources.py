"""The image sets FID compares, and the cache of their statistics.

Image sets: a folder of images, a dataset name (fashion_mnist, mnist), a folder holding IDX files,
a session's own training data, and images a session's generator makes in memory. All of them are
brought to one size before Inception: the session's image_size and channels when a session is
involved (so real images look like what the generator was trained on), else --image-size in RGB.

Cache: the statistics of every set that is not generated are saved to <cache root>/fid/<hash>.npz
(the one cache root of data.datasets.cache_root), keyed by what identifies the images (a folder's
file list with sizes and mtimes, an IDX file's size and mtime, plus the config keys that select
and shape a training set, and the class of a per-class set), their count and size, the weights
and the Inception input size. A changed file, count or network is a different key.
"""
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

import models
from data import cache, datasets, decode, idx
from metrics import fid
from utils import imaging
from utils.errors import UserError, warn

FOLDER_SIZE = 64  # decode size of image folders when no session gives one
NUM_REAL = 10000  # real images used (a fixed seeded subset of larger sets)
SUBSET_SEED = 0  # fixed, so the real subset (and its cache entry) does not depend on --seed


def stats_cache(configured=None):
    """The folder of cached statistics: fid/ under the cache root (config cache_dir, else
    $DCGAN_CACHE_DIR, else data/.cache), shared by training, compute_fid.py and the app."""
    return datasets.cache_root(configured) / "fid"


@dataclass
class ImageSource:
    label: str  # for messages
    key: dict  # JSON-able identity of the images, for the cache
    load: object  # () -> datasets.TrainingImages


def _file_identity(path):
    stat = Path(path).stat()
    return [str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns]


def _folder_identity(folder, background=decode.DEFAULT_BACKGROUND):
    """A digest of the image files below folder with their sizes and mtimes, their count, and the
    rules they are decoded by (statistics of images decoded otherwise are other statistics)."""
    candidates, _ = decode.scan_folder(folder)
    digest = hashlib.sha256()
    for path in candidates:
        stat = Path(path).stat()
        digest.update(f"{Path(path).relative_to(folder)}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return {"folder": str(Path(folder).resolve()), "files": digest.hexdigest(), "count": len(candidates),
            "decoding": cache.FORMAT, "background": list(decode.background_rgb(background))}


def _idx_identity(name, data_dir):
    folder = idx.find_idx(name, data_dir)
    return {"idx": _file_identity(folder / idx.IDX_IMAGES) if folder else f"keras download of {name}"}


def _subset(loaded, num):
    keep = datasets.subset(len(loaded.images), num, SUBSET_SEED)
    return datasets.TrainingImages(loaded.images[keep], loaded.source, loaded.skipped)


def image_source(text, size, channels, num):
    """The image set that --real/--fake TEXT names: a dataset name, an IDX folder or an image folder."""
    shape = {"size": size, "channels": channels, "num": num}
    if text in idx.IDX_DIRS or idx.holds_idx(Path(text).expanduser()):
        name, data_dir = (text, None) if text in idx.IDX_DIRS else ("fashion_mnist", str(Path(text).expanduser()))

        def load_idx():
            images, _, where = idx.load_idx(name, data_dir)
            return _subset(datasets.TrainingImages(datasets.conform(images, size, channels), where), num)
        return ImageSource(f"{text} (IDX)", dict(_idx_identity(name, data_dir), **shape), load_idx)
    folder = Path(text).expanduser()
    if not folder.is_dir():
        raise UserError(f"{text}: no such folder, and not a dataset name ({', '.join(idx.IDX_DIRS)}) or a "
                        ".npz statistics file. Pass an image folder, a dataset name or a .npz file.")
    return ImageSource(f"folder {text}", dict(_folder_identity(folder), **shape),
                       lambda: datasets.load_folder(folder, size, channels, max_images=num, seed=SUBSET_SEED))


def training_source(cfg, num=NUM_REAL, loaded=None, class_index=None):
    """A session config's own training set (up to num images of it). loaded: the set as
    datasets.TrainingImages, when the caller already holds it (no decoding). class_index: only the
    images of that class of a conditional session (up to num of them), which needs the labels."""
    data = (_folder_identity(cfg["data_dir"], cfg["background"]) if cfg["dataset"] == "folder"
            else _idx_identity(cfg["dataset"], cfg["data_dir"]))
    key = dict(data, dataset=cfg["dataset"], max_images=cfg["max_images"], seed=cfg["seed"],
               size=cfg["image_size"], channels=cfg["channels"], num=num)
    # Keys that shrink the set only when set, so the entries of sessions without them stay valid.
    if cfg.get("holdout"):  # held-out images are not in the set
        key["holdout"] = cfg["holdout"]
    if cfg.get("class_counts"):  # at most that many images of each class
        key["class_counts"] = list(cfg["class_counts"])
    label = f"training data ({cfg['data_dir'] or cfg['dataset']})"
    if class_index is not None:
        key["class"] = [class_index, cfg["class_names"][class_index]]
        label += f", class {cfg['class_names'][class_index]}"

    def load():
        held = loaded if loaded is not None else datasets.load_training_images(cfg)
        if class_index is not None:
            # Row numbers, not a mask: the images may be data.cache.CachedImages, which reads rows by index.
            # Without the skipped files: the whole set reports them, not each of its classes again.
            held = datasets.TrainingImages(held.images[np.flatnonzero(held.labels == class_index)], held.source)
        return _subset(held, num)
    return ImageSource(label, key, load)


@dataclass
class Images:
    """Images of a set beside their Inception features, row for row: what the copy check compares."""
    pixels: np.ndarray  # (K, H, W, C) uint8
    features: np.ndarray  # (K, D) float32


def save_stats(path, stats, meta):
    """Write Stats as .npz (mu and sigma as pytorch-fid names them, count, meta JSON, features if kept)."""
    arrays = dict(mu=stats.mu, sigma=stats.sigma, count=np.int64(stats.count), meta=json.dumps(meta))
    if stats.features is not None:
        arrays["features"] = stats.features

    def write(target):
        with open(target, "wb") as f:  # a file object: np.savez would append .npz to a bare name
            np.savez(f, **arrays)
    try:
        imaging.write_atomic(path, write)
    except OSError as e:
        raise UserError(f"Cannot write statistics to {path} ({e.strerror or e}). Pass a writable path.") from None


def read_stats(path):
    """(Stats, meta dict or None) of a .npz file written by save_stats (or pytorch-fid: mu, sigma)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            mu, sigma = np.asarray(f["mu"], np.float64), np.asarray(f["sigma"], np.float64)
            count = int(f["count"]) if "count" in f else None
            meta = json.loads(str(f["meta"])) if "meta" in f else None
            features = f["features"] if "features" in f else None
    except FileNotFoundError:
        raise UserError(f"Statistics file {path} does not exist.") from None
    except Exception as e:  # zip, pickle, key and JSON errors: all mean "not a statistics file"
        raise UserError(f"{path} is not a statistics .npz with mu and sigma ({type(e).__name__}). "
                        "Write one with --save-stats-real or --save-stats-fake.") from None
    if mu.ndim != 1 or sigma.shape != mu.shape * 2:
        raise UserError(f"{path} holds mu {mu.shape} and sigma {sigma.shape}, not (D,) and (D, D).")
    return fid.Stats(mu, sigma, count, features), meta


def stats_file(path, extractor, keep_features=False):
    """Stats of a .npz given as --real/--fake, checked against this run's feature extractor."""
    stats, meta = read_stats(path)
    if meta is None:
        warn(f"{path} does not record how its features were computed (not written by compute_fid.py?); the "
             "FID means something only if they come from the same network, weights and resizing as this run")
    elif meta.get("features") != extractor.identity:
        raise UserError(f"{path} was computed with other features ({meta.get('features')}) than this run "
                        f"({extractor.identity}). Pass the same --weights and --inception-size, or recompute it.")
    if stats.count is not None and stats.count < 2:
        raise UserError(f"{path} was computed from {stats.count} image(s); FID needs at least 2 per set.")
    if keep_features and stats.features is None:
        raise UserError(f"--kid and --prdc need feature vectors, and {path} holds only mean and covariance. "
                        "Save it again with --kid or --prdc, or drop them.")
    return stats


def _cache_path(cache_dir, key):
    return Path(cache_dir) / f"{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]}.npz"


def source_stats(source, extractor, cache_dir, keep_features=False):
    """(Stats, where they came from) of an ImageSource, from the cache when it holds them."""
    key = dict(source.key, features=extractor.identity)
    path = _cache_path(cache_dir, key) if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            stats, meta = read_stats(path)
        except UserError:  # a damaged entry is recomputed and overwritten
            stats, meta = None, None
        if stats is not None and (meta or {}).get("key") == key and (stats.features is not None or not keep_features):
            return stats, f"statistics from the cache {path}"
    loaded = source.load()
    if loaded.skipped:
        warn(f"skipped {len(loaded.skipped)} files of {source.label} that cannot be used, e.g. "
             f"{loaded.skipped[0][0]} ({loaded.skipped[0][1]})")
    count = len(loaded.images)
    if count < 2:
        raise UserError(f"{source.label} has {count} usable image(s); FID needs at least 2 per set "
                        "(and 10000 for a number worth reporting).")
    stats = extractor.statistics([loaded.images], keep_features)
    if path is None:
        return stats, "computed"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_stats(path, stats, {"key": key, "features": extractor.identity, "source": source.label})
    except (OSError, UserError) as e:  # a cache that cannot be written costs time, not the result
        warn(f"could not cache the statistics in {path} ({e}); pass --cache-dir DIR or --no-cache")
        return stats, "computed"
    return stats, f"computed, cached in {path}"


def source_stats_with_images(source, extractor, cache_dir, count=0):
    """(Stats with features, where they came from, Images of a seeded subset of count of them; 0 = all)
    of an ImageSource. The images are decoded once for both; cached features are in the order of the
    images, as the cache key names exactly the files, their count and the subset."""
    loaded = source.load()
    stats, origin = source_stats(replace(source, load=lambda: loaded), extractor, cache_dir, keep_features=True)
    if stats.count != len(loaded.images):
        raise ValueError(f"{source.label}: {stats.count} features for {len(loaded.images)} images")
    rows = datasets.subset(len(loaded.images), count, SUBSET_SEED)
    return stats, origin, Images(loaded.images[rows], stats.features[rows])


def generated_batches(generator, cfg, num, seed, batch_size, labels=None):
    """num images from the generator in uint8 batches: the images generate_img.py writes for this
    seed. labels: (num,) class indices, for a conditional generator (metrics.classes draws them)."""
    for images in models.sample_batches(generator, cfg, num, seed, batch_size, labels):
        # Quantised like a saved PNG, so a session and a folder of its saved images agree.
        yield imaging.to_uint8(images)


def generator_stats(generator, cfg, num, extractor, seed=0, keep_features=False, labels=None):
    return _generated_stats(generator, cfg, num, extractor, seed, keep_features, 0, labels)[0]


def generator_stats_with_images(generator, cfg, num, extractor, seed, count, labels=None):
    """(Stats with features of num generated images, Images of the first count of them): one pass of
    the generator for both, and only count images held."""
    stats, pixels = _generated_stats(generator, cfg, num, extractor, seed, True, count, labels)
    return stats, Images(pixels, stats.features[:len(pixels)])


def _generated_stats(generator, cfg, num, extractor, seed, keep_features, count, labels):
    """(Stats of num generated images, the first count of them as uint8, or None when count is 0)."""
    if num < 2:
        raise UserError(f"FID needs at least 2 generated images, got {num}.")
    kept = []

    def batches():
        held = 0
        for batch in generated_batches(generator, cfg, num, seed, extractor.batch_size, labels):
            if held < count:
                kept.append(batch[:count - held])
                held += len(kept[-1])
            yield batch
    stats = extractor.statistics(batches(), keep_features)
    return stats, np.concatenate(kept) if kept else None


def real_stats_for_config(cfg, extractor, num=NUM_REAL, cache_dir=None, images=None):
    """Stats of a session config's training data (up to num images), cached across runs in
    cache_dir (default: the config's cache root, as compute_fid.py uses for the session)."""
    loaded = None if images is None else datasets.TrainingImages(images, "training images")
    return source_stats(training_source(cfg, num, loaded), extractor, cache_dir or stats_cache(cfg["cache_dir"]))[0]


def fid_of_generator(generator, cfg, real_stats, num, extractor, seed=0, labels=None):
    """FID of num images from generator (of the classes `labels`, when conditional) against real_stats."""
    return fid.fid_of_stats(real_stats, generator_stats(generator, cfg, num, extractor, seed, labels=labels))
