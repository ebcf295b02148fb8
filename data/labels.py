"""Class labels of a training set: class subfolders of an image folder, the classes' shares, the
held-out share of each class and a cap on each class (class_counts). The labels of IDX files are
read in data.idx.

A labelled folder follows keras.utils.image_dataset_from_directory: one subfolder per class
(hidden ones ignored), class names are the subfolder names sorted, a label is the index of its
image's subfolder, and images deeper inside a class folder belong to that class.
"""
import os
from collections import Counter
from pathlib import Path

import numpy as np

from utils.errors import UserError


def _class_of(folder, path):
    """The class subfolder's name of a file below folder, or None for a file directly in it."""
    parts = Path(os.path.relpath(path, folder)).parts
    return parts[0] if len(parts) > 1 else None


def folder_classes(folder, candidates):
    """(class names, labels (N,) int32 of the candidates) of a folder with one subfolder per class.

    Refuses, before anything is decoded, a folder conditional training cannot use: images
    directly in it, fewer than two classes, or a class folder without an image file.
    """
    folder = Path(folder)
    class_names = sorted(entry.name for entry in os.scandir(folder)
                         if entry.is_dir() and not entry.name.startswith("."))
    loose = [path for path in candidates if _class_of(folder, path) is None]
    if loose:
        shown = ", ".join(Path(p).name for p in loose[:5]) + (" ..." if len(loose) > 5 else "")
        raise UserError(f"Conditional training reads each image's class from its subfolder, but {len(loose)} images "
                        f"lie directly in {folder} ({shown}). Move each into the subfolder of its class "
                        f"(e.g. {folder / 'cats'}/, {folder / 'dogs'}/), or train without conditional.")
    if len(class_names) < 2:
        found = f"only {class_names[0]!r}" if class_names else "none"
        raise UserError(f"Conditional training needs at least two classes, one subfolder of {folder} each; found "
                        f"{found}. Add a subfolder of images per class, or train without conditional.")
    index = {name: i for i, name in enumerate(class_names)}
    labels = np.array([index[_class_of(folder, path)] for path in candidates], np.int32)
    counts = np.bincount(labels, minlength=len(class_names))
    empty = [name for name, count in zip(class_names, counts) if count == 0]
    if empty:
        raise UserError(f"Class folders without an image file in {folder}: {', '.join(empty)}. Put that class's "
                        "images (.jpg, .png, .bmp or .gif) in each, or remove the folder.")
    return class_names, labels


def check_classes_usable(folder, class_names, decoded_labels, usable_labels):
    """Refuse a class of which files were decoded but none could be used."""
    decoded = np.bincount(decoded_labels, minlength=len(class_names))
    usable = np.bincount(usable_labels, minlength=len(class_names))
    unusable = [name for name, tried, kept in zip(class_names, decoded, usable) if tried and not kept]
    if unusable:
        raise UserError(f"No usable image in the class folders {', '.join(unusable)} of {folder}: every file in "
                        "them was skipped. Replace them with readable images, or remove those folders.")


def skipped_per_class(folder, class_names, skipped):
    """{class name: number of skipped files} in label order, every class included; files outside
    the class folders (e.g. a README at the top) are counted under None, when there are any."""
    counts = Counter(_class_of(folder, path) for path, _ in skipped)
    per_class = {name: counts.pop(name, 0) for name in class_names}
    if counts:  # what remains lies directly in the top folder
        per_class[None] = sum(counts.values())
    return per_class


def class_frequencies(labels, num_classes):
    """(num_classes,) float32 share of each class among labels: the distribution to draw fake
    labels from, so generated classes are as frequent as real ones."""
    labels = np.asarray(labels)
    if not len(labels) or labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must be a non-empty array of class indices in [0, {num_classes})")
    return (np.bincount(labels, minlength=num_classes) / len(labels)).astype(np.float32)


def fake_class_shares(labels, num_classes, draw):
    """(num_classes,) float32 shares to draw the classes of fake batches from: the training set's
    (draw "data": the discriminator then sees each class as often among fakes as among reals) or
    equal ("uniform": a rare class is generated, and its generator gradients come, as often as a
    frequent class's)."""
    shares = class_frequencies(labels, num_classes)  # also checks the labels
    return np.full(num_classes, 1 / num_classes, np.float32) if draw == "uniform" else shares


def class_balanced_weights(labels):
    """(N,) float64 probabilities of drawing each image, summing to 1, under which every class
    present is drawn equally often: an image's weight is 1 / (classes x its class's size)."""
    labels = np.asarray(labels)
    present, index, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return 1.0 / (len(present) * counts[index])


def holdout_split(labels, share, seed):
    """(training indices, held-out indices), both sorted: a seeded round(share * n) of each class's
    n images held out, so a classifier can be tested on images the GAN never saw. A pure
    function of (labels, share, seed): every run of a session holds out the same images."""
    labels = np.asarray(labels)
    rng = np.random.default_rng([seed, 104])  # apart from the seeds of subsets and epoch orders
    held = [rng.choice(members, int(round(share * len(members))), replace=False)
            for members in (np.flatnonzero(labels == label) for label in np.unique(labels))]
    held = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    return np.setdiff1d(np.arange(len(labels)), held), held


def check_class_counts(class_counts, class_names):
    """Refuse a class_counts list that does not fit the data: an unconditional session (class_names
    None, no labels to count by) or another number of classes."""
    if class_names is None:
        raise UserError("class_counts keeps at most that many training images of each class, which needs the "
                        "classes of a conditional session. Set conditional: true (with labelled data: Fashion-MNIST, "
                        "MNIST or one subfolder per class), or drop class_counts.")
    if len(class_counts) != len(class_names):
        raise UserError(f"class_counts lists {len(class_counts)} numbers, but the data has {len(class_names)} classes "
                        f"({', '.join(class_names)}). Give one number per class in that order (0 keeps all of a "
                        "class), or drop class_counts.")


def class_subset(labels, class_counts, seed):
    """Sorted indices of a seeded subset with at most class_counts[c] images of each class c (all of
    it when 0 or when it has no more). A pure function of (labels, class_counts, seed)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng([seed, 105])  # a stream of its own, apart from the holdout's (104)
    kept = []
    for label, count in enumerate(class_counts):
        members = np.flatnonzero(labels == label)
        kept.append(rng.choice(members, count, replace=False) if 0 < count < len(members) else members)
    return np.sort(np.concatenate(kept)) if kept else np.zeros(0, np.int64)
