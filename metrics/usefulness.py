"""Does a classifier trained with a GAN's images get better? Three training sets, one test set.

    real            K real training images per class: the small-data case
    real+synthetic  the same K real images plus M generated ones per class
    synthetic       the M generated images per class alone: the Classification Accuracy Score
                    (Ravuri & Vinyals 2019), how well the generator's classes stand in for real ones

Each is tested on real images the GAN never saw (a dataset's t10k files, or a session's held-out
share of an image folder). Run r of every setting uses seed r for the real subset, the generator's
noise, the classifier's weights, dropout and batch order, so the three settings of a run differ
only in their training images and run r of "real" and "real+synthetic" share their real images.
"""
import csv
import io
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import layers

from data import datasets, idx
from metrics.sources import generated_batches
from utils import imaging
from utils.errors import UserError

SETTINGS = ("real", "real+synthetic", "synthetic")
# The classifier's fixed recipe: keras-io's "Simple MNIST convnet" (conv 3x3 + max-pool stages,
# dropout 0.5, a linear head), Adam at its default 1e-3, batches of 64.
LEARNING_RATE = 1e-3
BATCH_SIZE = 64
WIDTH = 32  # filters of the first stage; each further stage doubles them, up to 4x
DEFAULT_EPOCHS = 10
# An epoch is at least this many images: a smaller set is cycled. Without a floor, 100 real images
# per class would get a tenth of the updates the set with 1000 synthetic ones gets, and "real"
# would lose for being undertrained, not for having less data.
MIN_EPOCH_IMAGES = 5000
LAST_MAP = 12  # stages are added until the feature map is at most this wide (about 6x6 at the end)
GENERATOR_BATCH = 256


@dataclass
class LabelledImages:
    images: np.ndarray  # (N, size, size, channels) uint8
    labels: np.ndarray  # (N,) int32 class indices

    def take(self, indices):
        return LabelledImages(self.images[indices], self.labels[indices])

    @staticmethod
    def join(parts):
        return LabelledImages(np.concatenate([p.images for p in parts]), np.concatenate([p.labels for p in parts]))


# --- the classifier ---------------------------------------------------------------------------

def build_classifier(image_size, channels, num_classes, width=WIDTH):
    """uint8 images (B, size, size, channels) -> class logits (B, num_classes)."""
    images = keras.Input((image_size, image_size, channels), dtype="uint8", name="image")
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(images)  # [0, 255] -> [-1, 1], as the generator's range
    side, stage = image_size, 0
    while stage < 2 or side > LAST_MAP:  # 28 and 32: two stages, 64: three, 128: four
        x = layers.Conv2D(width * 2 ** min(stage, 2), 3, activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
        side, stage = (side - 2) // 2, stage + 1
    assert x.shape[1] == side
    x = layers.Dropout(0.5)(layers.Flatten()(x))
    logits = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(images, logits, name="classifier")


def training_steps(count, epochs):
    """Steps of BATCH_SIZE for `epochs` epochs of `count` images, an epoch being at least MIN_EPOCH_IMAGES."""
    return epochs * math.ceil(max(count, MIN_EPOCH_IMAGES) / BATCH_SIZE)


def batch_order(count, steps, seed):
    """(steps, BATCH_SIZE) indices: one shuffled pass after another, so every image comes up
    equally often and each batch is full (one traced step shape)."""
    rng = np.random.default_rng([seed, 7])
    passes = math.ceil(steps * BATCH_SIZE / count)
    return np.concatenate([rng.permutation(count) for _ in range(passes)])[:steps * BATCH_SIZE].reshape(steps, BATCH_SIZE)


def train_classifier(data, num_classes, seed, epochs, width=WIDTH):
    """A classifier trained on `data` (LabelledImages) with the fixed recipe and `seed`."""
    keras.utils.set_random_seed(seed)  # the weights and dropout
    _, size, _, channels = data.images.shape
    model = build_classifier(size, channels, num_classes, width)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    for batch in batch_order(len(data.images), training_steps(len(data.images), epochs), seed):
        model.train_on_batch(data.images[batch], data.labels[batch])
    return model


def predicted(model, data):
    """(N,) the class of each of data's images: the one with the highest logit."""
    return np.argmax(model.predict(data.images, batch_size=256, verbose=0), axis=1)


def accuracy(model, data):
    """The share of data's images whose highest logit is at their label."""
    return float(np.mean(predicted(model, data) == data.labels))


# --- the images -------------------------------------------------------------------------------

def training_images(cfg, label=None):
    """A session's real training images (its held-out share left out, class_counts applied) with
    labels: a conditional session's own, else every image gets `label` (one session per class)."""
    loaded = datasets.load_training_images(cfg)
    labels = loaded.labels if cfg["conditional"] else np.full(len(loaded.images), label, np.int32)
    return LabelledImages(loaded.images, labels), loaded


def held_out_images(cfg, label=None):
    """Real images a session never trained on: the t10k files of Fashion-MNIST/MNIST, or the
    holdout share of an image folder (callers refuse a folder session with holdout 0)."""
    if cfg["dataset"] == "folder":
        loaded = datasets.load_training_images(cfg, split="holdout")
        labels = loaded.labels if cfg["conditional"] else np.full(len(loaded.images), label, np.int32)
        return LabelledImages(loaded.images, labels), f"the held-out {cfg['holdout']:g} of {loaded.source}"
    if cfg["data_dir"] and not idx.holds_idx(cfg["data_dir"], split="test"):
        # Elsewhere the loader would find the official t10k files, which need not be this data's.
        raise UserError(f"The session trained on the IDX files in {cfg['data_dir']}, which holds no "
                        f"{idx.IDX_SPLITS['test'][0]}: the test images must come from the same dataset. "
                        f"Put its {' and '.join(idx.IDX_SPLITS['test'])} into {cfg['data_dir']}.")
    images, labels, source = idx.load_idx(cfg["dataset"], cfg["data_dir"], split="test", labelled=True)
    return LabelledImages(datasets.conform(images, cfg["image_size"], cfg["channels"]), labels), f"the t10k files ({source})"


def cap(data, count):
    """A seeded subset of at most `count` images (all when count is 0)."""
    return data.take(datasets.subset(len(data.labels), count, 0))


def check_test_classes(test, class_names, hint):
    """Refuse a test set in which a class has no image: its accuracy could not be measured."""
    counts = np.bincount(test.labels, minlength=len(class_names))
    missing = [name for name, count in zip(class_names, counts) if count == 0]
    if missing:
        raise UserError(f"The held-out images hold no image of the class{'es' if len(missing) > 1 else ''} "
                        f"{', '.join(map(repr, missing))}, so a classifier cannot be tested on "
                        f"{'them' if len(missing) > 1 else 'it'}. {hint}")


def check_real_counts(real, class_names, per_class):
    """Refuse a real pool with fewer than per_class images of a class, naming each such class."""
    counts = np.bincount(real.labels, minlength=len(class_names))
    short = [f"{name!r} has {count}" for name, count in zip(class_names, counts) if count < per_class]
    if short:
        fix = (f"Pass --real-per-class {counts.min()} or less." if counts.min() else
               "Add images to that class's folder and train a new session.")
        raise UserError(f"--real-per-class {per_class} needs {per_class} real training images of every class, but "
                        f"{'; '.join(short)}. {fix}")


def per_class_counts(per_class, num_classes):
    """A count for each class: per_class itself when it is a list (one per class), else per_class for every class."""
    return list(per_class) if isinstance(per_class, (list, tuple)) else [per_class] * num_classes


def real_subset(labels, num_classes, per_class, seed):
    """Sorted indices of a seeded per_class images of each class (per_class: one count, or one per class)."""
    rng = np.random.default_rng([seed, 11])
    chosen = [rng.choice(np.flatnonzero(labels == c), count, replace=False)
              for c, count in enumerate(per_class_counts(per_class, num_classes))]
    return np.sort(np.concatenate(chosen))


def generated(generator, cfg, count, seed, labels=None):
    """count images of a generator as uint8, the form they take as files in a training set."""
    empty = np.zeros((0, cfg["image_size"], cfg["image_size"], cfg["channels"]), np.uint8)  # count may be 0
    return np.concatenate([empty, *generated_batches(generator, cfg, count, seed, GENERATOR_BATCH, labels)])


def synthesizer(generators, num_classes, per_class):
    """seed -> LabelledImages of per_class generated images of each class (per_class: one count, or
    one per class, 0 for none). generators: [(generator, cfg)], one conditional generator for every
    class, or one unconditional generator per class."""
    counts = per_class_counts(per_class, num_classes)

    def synthesize(seed):
        if len(generators) == 1:
            labels = np.repeat(np.arange(num_classes, dtype=np.int32), counts)
            return LabelledImages(generated(*generators[0], len(labels), seed, labels), labels)
        return LabelledImages.join([LabelledImages(generated(generator, cfg, count, seed), np.full(count, label, np.int32))
                                    for label, ((generator, cfg), count) in enumerate(zip(generators, counts))])
    return synthesize


# --- the experiment ---------------------------------------------------------------------------

@dataclass
class Result:
    setting: str
    train_images: int
    accuracies: list  # one per run, run r with seed r

    @property
    def mean(self):
        return mean_std(self.accuracies)[0]

    @property
    def std(self):
        return mean_std(self.accuracies)[1]


def mean_std(values):
    """(mean, sample standard deviation) over runs; the deviation is None for a single run."""
    return float(np.mean(values)), (float(np.std(values, ddof=1)) if len(values) > 1 else None)


def evaluate(real, test, synthesize, class_names, real_per_class, repeats, epochs, report=print, width=WIDTH):
    """Results of the three SETTINGS, each trained `repeats` times (seeds 0..repeats-1).

    real: the real training pool (LabelledImages); test: held-out real images; synthesize(seed):
    LabelledImages of M generated images per class for the given seed.
    """
    check_real_counts(real, class_names, real_per_class)
    results = {setting: Result(setting, 0, []) for setting in SETTINGS}
    for seed in range(repeats):
        chosen = real.take(real_subset(real.labels, len(class_names), real_per_class, seed))
        synthetic = synthesize(seed)
        sets = dict(zip(SETTINGS, (chosen, LabelledImages.join([chosen, synthetic]), synthetic)))
        for setting, data in sets.items():
            model = train_classifier(data, len(class_names), seed, epochs, width)
            results[setting].accuracies.append(accuracy(model, test))
            results[setting].train_images = len(data.labels)
            report(f"{setting}, run {seed + 1} of {repeats}: {len(data.labels)} images, "
                   f"{training_steps(len(data.labels), epochs)} steps: test accuracy {results[setting].accuracies[-1]:.4f}")
    return list(results.values())


def paired_gain(results):
    """(mean, std or None) over the runs of accuracy(real+synthetic) - accuracy(real), run by run."""
    by_setting = {r.setting: r.accuracies for r in results}
    return mean_std(np.subtract(by_setting["real+synthetic"], by_setting["real"]))


# --- the records ------------------------------------------------------------------------------

def plus_minus(mean, std, signed=False):
    return f"{mean:{'+' if signed else ''}.4f}" + ("" if std is None else f" ± {std:.4f}")


def to_csv(results, real_per_class, synthetic_per_class, test_count):
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["setting", "real_per_class", "synthetic_per_class", "train_images", "test_images",
                     "runs", "accuracy_mean", "accuracy_std", "accuracies"])
    for r in results:
        real = real_per_class if r.setting != "synthetic" else 0
        synthetic = synthetic_per_class if r.setting != "real" else 0
        writer.writerow([r.setting, real, synthetic, r.train_images, test_count, len(r.accuracies), f"{r.mean:.6f}",
                         "" if r.std is None else f"{r.std:.6f}", " ".join(f"{a:.6f}" for a in r.accuracies)])
    return text.getvalue()


def to_markdown(results, title):
    lines = [f"{title}\n", "| setting | training images | test accuracy (mean ± std) |", "|---|---:|---:|"]
    lines += [f"| {r.setting} | {r.train_images} | {plus_minus(r.mean, r.std)} |" for r in results]
    gain = paired_gain(results)
    lines += ["", f"real+synthetic − real, run by run: {plus_minus(*gain, signed=True)}"]
    return "\n".join(lines) + "\n"


def _plot(results, title, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    means = [r.mean for r in results]
    errors = [r.std or 0.0 for r in results]
    ax.bar([r.setting for r in results], means, yerr=errors, capsize=8, color=["tab:blue", "tab:green", "tab:orange"])
    for x, mean in enumerate(means):  # at the foot of each bar, where no error bar crosses it
        ax.text(x, 0.02, f"{mean:.3f}", ha="center", va="bottom", color="white", fontweight="bold")
    ax.set(ylim=(0, 1), ylabel="test accuracy on held-out real images")
    ax.set_title(textwrap.fill(title, 60), fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def write_records(prefix, results, real_per_class, synthetic_per_class, test_count, title):
    """PREFIX.csv, PREFIX.md and PREFIX.png, each written atomically; returns the three paths."""
    return write_views(prefix, to_csv(results, real_per_class, synthetic_per_class, test_count),
                       to_markdown(results, title), lambda target: _plot(results, title, target))


def write_views(prefix, csv_text, markdown, plot):
    """PREFIX.csv, PREFIX.md and PREFIX.png (drawn by plot(path)), each written atomically; returns the paths."""
    prefix = Path(prefix)
    paths = [prefix.with_name(prefix.name + suffix) for suffix in (".csv", ".md", ".png")]
    try:
        for path, content in zip(paths, (csv_text, markdown)):
            imaging.write_atomic(path, lambda target: Path(target).write_text(content))
        imaging.write_atomic(paths[2], plot)
    except OSError as e:
        raise UserError(f"Cannot write {prefix}.csv/.md/.png ({e.strerror or e}). Make the folder writable.") from None
    return paths
