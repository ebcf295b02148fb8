"""The IDX files of MNIST and Fashion-MNIST: where they may lie, reading them, and Keras' download.

Each split is an images file (IDX3) and a labels file (IDX1) beside it. The files are looked for
in data_dir, then in the usual places (ours, Keras' download cache, Debian's package); Keras'
own download comes last.
"""
import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from utils.errors import UserError

DATA_ROOT = Path(__file__).resolve().parent
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
FASHION_MNIST_CLASSES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker',
                         'Bag', 'Ankle boot')
MNIST_CLASSES = tuple(str(digit) for digit in range(10))
IDX_CLASSES = {"fashion_mnist": FASHION_MNIST_CLASSES, "mnist": MNIST_CLASSES}


def holds_idx(folder, split="train"):
    """Whether folder holds the images file of the split."""
    return (Path(folder) / IDX_SPLITS[split][0]).is_file()


def idx_places(name, data_dir=None):
    """The folders searched for a dataset's files, in order: data_dir first, when given."""
    return ([Path(data_dir)] if data_dir else []) + IDX_DIRS[name]


def find_idx(name, data_dir=None, split="train"):
    """The first of idx_places() holding the split's images file, or None."""
    return next((folder for folder in idx_places(name, data_dir) if holds_idx(folder, split)), None)


def read_idx_images(path):
    """The images of an IDX3 file (magic 0x00000803) as (N, rows, cols) uint8."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, count, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != 0x803 or len(raw) != 16 + count * rows * cols:
        raise UserError(f"{path} is not an IDX image file (bad header or size). "
                        f"Replace it with the original {Path(path).name}.")
    return np.frombuffer(raw, np.uint8, offset=16).reshape(count, rows, cols)


def read_idx_labels(path):
    """The labels of an IDX1 file (magic 0x00000801) as (N,) int32."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:  # not gzip, truncated, corrupt: one piece of advice
        raise UserError(f"{path} cannot be read as a gzip file ({type(e).__name__}). "
                        f"Replace it with the original {Path(path).name}.") from None
    magic, count = struct.unpack(">II", raw[:8]) if len(raw) >= 8 else (None, None)
    if magic != 0x801 or len(raw) != 8 + count:
        raise UserError(f"{path} is not an IDX label file (bad header or size). "
                        f"Replace it with the original {Path(path).name}.")
    return np.frombuffer(raw, np.uint8, offset=8).astype(np.int32)


def check_idx_labels(labels, image_count, class_names, labels_path):
    """Refuse labels that cannot belong to these images: another count, or a label past the classes."""
    if len(labels) != image_count:
        raise UserError(f"{labels_path} holds {len(labels)} labels but its images file holds {image_count} images. "
                        "The two files come from different downloads: replace both with one dataset's files.")
    if len(labels) and labels.max() >= len(class_names):
        raise UserError(f"{labels_path} holds label {labels.max()}, but the dataset has {len(class_names)} classes. "
                        "Replace it with the original label file of the dataset.")


def keras_download(name, split):
    """(images, labels) of a split of mnist or fashion_mnist, through keras.datasets (downloads once)."""
    import keras
    loader = {"fashion_mnist": keras.datasets.fashion_mnist, "mnist": keras.datasets.mnist}[name]
    train, test = loader.load_data()
    return train if split == "train" else test


def load_idx(name, data_dir=None, split="train", labelled=False, download=keras_download):
    """(images (N, 28, 28) uint8, labels (N,) int32 or None, where they were found) of a split
    ("train", or "test": the t10k files) of mnist or fashion_mnist. labelled: the labels file must
    lie beside the images file found first; else labels is None. download(name, split) -> (images,
    labels) is tried when no folder holds the files."""
    images_file, labels_file = IDX_SPLITS[split]
    folder = find_idx(name, data_dir, split)
    if folder is not None:
        labels_path = folder / labels_file
        if labelled and not labels_path.is_file():
            raise UserError(f"{folder} holds {images_file} but not {labels_file}, which training with classes "
                            f"needs beside it. Put the {labels_file} of the same dataset into {folder}.")
        images, source = read_idx_images(folder / images_file), str(folder)
        labels = read_idx_labels(labels_path) if labelled else None
    else:
        try:
            images, labels = download(name, split)
        except Exception as e:  # offline, proxy, partial file: all end in the same advice
            files = f"{images_file} and {labels_file}" if labelled else images_file
            hint = " (on Debian: apt-get install dataset-fashion-mnist)" if name == "fashion_mnist" else ""
            raise UserError(
                f"Could not find the {name} files, and Keras could not download them ({type(e).__name__}). "
                f"Put {files} into one of: {', '.join(map(str, idx_places(name, data_dir)))}{hint}, "
                f"or pass a folder holding {'them' if labelled else 'it'} with --data DIR.") from None
        labels = np.asarray(labels, np.int32).reshape(-1) if labelled else None
        labels_path, source = f"Keras' {name} labels", "Keras download"
    if labelled:
        check_idx_labels(labels, len(images), IDX_CLASSES[name], labels_path)
    return images, labels, source
