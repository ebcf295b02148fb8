"""FID of class-conditional sessions: the classes generated images get, and FID within each class.

A conditional generator makes an image of the class it is given, so which classes FID asks for is
part of the measurement. The overall FID compares with the whole training set, where each class
has its share of the images: the generated images get the classes in exactly those shares (up to
rounding), in an order shuffled by the seed, so that every prefix (the images --copies checks)
mixes the classes and no draw of labels adds its own noise to the number.

Intra-class FID (Miyato & Koyama 2018) compares, class by class, that class's generated images
with the training images of that class: it sees a generator that draws the wrong class, or one
class well and another badly, which the overall FID can average away. Each class's images come
from the same noise vectors (image i of every class from one latent, as generate_img.py writes
them), so the classes differ only by their label.
"""
import numpy as np

from data import datasets
from metrics import fid, sources
from utils.errors import UserError, warn


def training_set(cfg):
    """A conditional session's training images with their labels (what training used: the holdout
    left out, each class cut to class_counts), refused when its data no longer has the session's classes."""
    loaded = datasets.load_training_images(cfg)
    if loaded.class_names != list(cfg["class_names"]):
        raise UserError(f"The session was trained on the classes {list(cfg['class_names'])}, but its data "
                        f"{cfg['data_dir'] or cfg['dataset']} now has the classes {loaded.class_names}: its labels "
                        "would mean other classes. Measure it while its data is as it was trained on.")
    return loaded


def generated_labels(labels, num_classes, count, seed):
    """(count,) int32 class indices: each class count * (its share of `labels`) times, rounded by
    largest remainder so they add up to count, in an order shuffled by seed."""
    real = np.bincount(np.asarray(labels), minlength=num_classes).astype(np.int64)
    # Integer arithmetic: count * real / total split into whole part and remainder, exactly.
    counts, remainders = np.divmod(count * real, real.sum())
    left = count - counts.sum()
    counts[np.argsort(-remainders, kind="stable")[:left]] += 1  # ties go to the lower class index
    drawn = np.repeat(np.arange(num_classes, dtype=np.int32), counts)
    return np.random.default_rng(seed).permutation(drawn)


def training_class_counts(cfg):
    """Training images per class, in label order, of a conditional session that did not store them
    (sessions trained before class_counts.json): its labels as the stored config loads them
    (decodes the data; needs TensorFlow when the images are resized)."""
    labels = training_set(cfg).labels
    return [int(count) for count in np.bincount(labels, minlength=len(cfg["class_names"]))]


def real_counts(loaded, num_real):
    """{class name: real images per-class FID uses}: all of the class, up to num_real (0 = all)."""
    counts = np.bincount(loaded.labels, minlength=len(loaded.class_names))
    return {name: int(min(count, num_real) if num_real else count) for name, count in zip(loaded.class_names, counts)}


def small_n_warning(counts, num):
    """fid.small_n_warning for the smallest set per-class FID compares (counts: {class: real
    images} of the classes measured), or None: classes are smaller than the whole set, so this
    bias is the rule rather than the exception."""
    name = min(counts, key=counts.get)
    if counts[name] < num:
        return fid.small_n_warning(counts[name], f"Per-class FID's smallest set, the real images of class {name},")
    return fid.small_n_warning(num, "Per-class FID's smallest set, each class's generated images,")


def per_class_fid(generator, cfg, loaded, extractor, num, num_real, seed, cache_dir):
    """Yields (class name, real images, generated images, FID) class by class, as each is measured:
    num generated images of the class against its training images (up to num_real, cached like
    every real set, under a key that names the class). A class with fewer than 2 training images
    has no covariance: it is reported with FID None and nothing generated, and the others are
    measured (a small subset of a labelled set misses classes). Warns first about both."""
    counts = real_counts(loaded, num_real)
    measured = {name: count for name, count in counts.items() if count >= 2}
    if len(measured) < len(counts):
        warn("classes with fewer than 2 training images have no FID: " + ", ".join(
            f"{name} ({count})" for name, count in counts.items() if name not in measured) +
            "; add images to them, or raise --num-real")
    note = measured and small_n_warning(measured, num)
    if note:
        warn(note)
    for index, name in enumerate(loaded.class_names):
        if name not in measured:
            yield name, counts[name], 0, None
            continue
        source = sources.training_source(cfg, num_real, loaded, class_index=index)
        real, _ = sources.source_stats(source, extractor, cache_dir)
        fake = sources.generator_stats(generator, cfg, num, extractor, seed, labels=np.full(num, index, np.int32))
        yield name, real.count, fake.count, fid.fid_of_stats(real, fake)
