"""Does a classifier trained on an imbalanced set get better with generated images of its rare classes?

    real         the real training images with a given count per class (a seeded subset of each
                 class, or all of them): some classes are rare
    oversampled  the same, each rare class's real images repeated up to the target: whole copies
                 first, then a seeded share of them once more
    topped-up    the same real images plus generated ones of each rare class up to the target: the
                 plan of generation/balance.py's top_up, which generate_img.py --balance follows
                 (evaluate_augmentation.py makes it and hands over a synthesizer of those images)

A rare class has fewer real images than the target. Plain accuracy lets the frequent classes hide
what happens to the rare ones, so a run is scored from its confusion matrix on held-out real images:
balanced accuracy (the mean of the classes' recalls), macro F1 and each class's recall. Run r of
every arm uses seed r for the real subset, the generator's noise and the classifier's weights, so
the arms are compared run by run (paired).
"""
import csv
import io
import textwrap
from dataclasses import dataclass, field

import numpy as np

from metrics import usefulness
from utils.errors import UserError

ARMS = ("real", "oversampled", "topped-up")
SUMMARY = {"balanced_accuracy": "balanced accuracy", "macro_f1": "macro F1", "rare_recall": "rare-class recall"}
RECALL = "recall:"  # + a class name: that class's recall


# --- scores from a confusion matrix -------------------------------------------------------------

def confusion(labels, predicted, num_classes):
    """(num_classes, num_classes) counts of test images: row = true class, column = predicted class."""
    return np.bincount(np.asarray(labels) * num_classes + np.asarray(predicted),
                       minlength=num_classes ** 2).reshape(num_classes, num_classes)


def _ratio(numerator, denominator):
    """numerator / denominator, NaN where the denominator is 0."""
    return np.divide(numerator, denominator, out=np.full(len(numerator), np.nan), where=denominator > 0)


def recalls(matrix):
    """Each class's recall: the share of its test images predicted as it. NaN for a class with no
    test images: there is nothing to recall, and 0 would count it as a failure."""
    matrix = np.asarray(matrix, float)
    return _ratio(np.diag(matrix), matrix.sum(axis=1))


def f1_scores(matrix):
    """Each class's F1, 2 tp / (2 tp + fp + fn): the harmonic mean of precision and recall, also
    where one of them is 0/0. A class never predicted but with test images, or predicted but with
    none, scores 0; a class neither predicted nor in the test set is NaN (nothing to get right or wrong)."""
    matrix = np.asarray(matrix, float)
    tp = np.diag(matrix)
    return _ratio(2 * tp, matrix.sum(axis=0) + matrix.sum(axis=1))  # fp + tp + fn + tp


def balanced_accuracy(matrix):
    """The mean recall over the classes that have test images."""
    return float(np.nanmean(recalls(matrix)))


def macro_f1(matrix):
    """The mean F1 over the classes in the test set or in the predictions."""
    return float(np.nanmean(f1_scores(matrix)))


# --- the three training sets --------------------------------------------------------------------

def oversample(labels, num_classes, target, seed):
    """Sorted indices into labels: every image once, and a class with fewer than target images
    repeated up to target, whole copies first (target // n in all), then a seeded target % n of its
    images once more. A class with target or more images keeps them, once each."""
    rng = np.random.default_rng([seed, 13])
    chosen = []
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        copies, rest = divmod(target, len(members)) if len(members) < target else (1, 0)
        chosen += [np.tile(members, copies), rng.choice(members, rest, replace=False)]
    return np.sort(np.concatenate(chosen))


def check_counts(real, class_names, counts):
    """The real images of each class to train on: counts, refused where a class of the pool `real`
    has fewer; None (--real-counts all) stands for every image of the pool."""
    available = np.bincount(real.labels, minlength=len(class_names)).tolist()
    if counts is None:
        return available
    short = [f"{name!r} has {have}" for name, want, have in zip(class_names, counts, available) if want > have]
    if short:
        raise UserError(f"--real-counts asks for more real images of a class than the session trained on: "
                        f"{'; '.join(short)}. Ask for at most that many, or pass --real-counts all for every "
                        "image it trained on.")
    return list(counts)


def training_sets(real, counts, target, synthesize, seed):
    """{arm: LabelledImages} of run `seed`: counts[c] real images of class c (a seeded subset of the
    pool `real`), the rare ones repeated, or with synthesize(seed)'s generated images beside them."""
    num_classes = len(counts)
    chosen = real.take(usefulness.real_subset(real.labels, num_classes, counts, seed))
    return {"real": chosen,
            "oversampled": chosen.take(oversample(chosen.labels, num_classes, target, seed)),
            "topped-up": usefulness.LabelledImages.join([chosen, synthesize(seed)])}


@dataclass
class ArmResult:
    arm: str
    class_counts: list = None  # training images of each class (the same in every run)
    matrices: list = field(default_factory=list)  # one confusion matrix per run, run r with seed r


def evaluate(real, test, synthesize, class_names, counts, target, repeats, epochs, report=print,
             width=usefulness.WIDTH):
    """ArmResults of the three ARMS, each trained `repeats` times (seeds 0..repeats-1).

    real: the real training pool (LabelledImages) with at least counts[c] images of class c; test:
    held-out real images; synthesize(seed): LabelledImages of the generated images that top each
    class up to target (generation/balance.py's top_up(counts, target) of each class).
    """
    num_classes = len(class_names)
    rare = np.array(counts) < target
    results = {arm: ArmResult(arm) for arm in ARMS}
    for seed in range(repeats):
        for arm, data in training_sets(real, counts, target, synthesize, seed).items():
            model = usefulness.train_classifier(data, num_classes, seed, epochs, width)
            matrix = confusion(test.labels, usefulness.predicted(model, test), num_classes)
            results[arm].matrices.append(matrix)
            results[arm].class_counts = np.bincount(data.labels, minlength=num_classes).tolist()
            report(f"{arm}, run {seed + 1} of {repeats}: {len(data.labels)} images, "
                   f"{usefulness.training_steps(len(data.labels), epochs)} steps: balanced accuracy "
                   f"{balanced_accuracy(matrix):.4f}, macro F1 {macro_f1(matrix):.4f}, rare-class recall "
                   f"{np.mean(recalls(matrix)[rare]):.4f}")
    return list(results.values())


# --- the record and its views -------------------------------------------------------------------

@dataclass
class Row:
    arm: str
    metric: str  # a SUMMARY key, or RECALL + a class name
    train_images: int  # of the arm's training set, or of that class in it
    values: list  # one per run
    difference: tuple = None  # (mean, std or None) of values - real's values, run by run; None for real


def rows(results, class_names, real_counts, target):
    """The one record every view is drawn from: per arm, the three summary scores and each class's recall."""
    rare = np.array(real_counts) < target
    real_values = {}
    record = []
    for result in results:
        per_run = [recalls(m) for m in result.matrices]
        metrics = {"balanced_accuracy": ([balanced_accuracy(m) for m in result.matrices], sum(result.class_counts)),
                   "macro_f1": ([macro_f1(m) for m in result.matrices], sum(result.class_counts)),
                   "rare_recall": ([float(np.mean(r[rare])) for r in per_run], int(np.sum(np.array(result.class_counts)[rare])))}
        metrics.update({RECALL + name: ([float(r[c]) for r in per_run], result.class_counts[c])
                        for c, name in enumerate(class_names)})
        for metric, (values, images) in metrics.items():
            real_values.setdefault(metric, values)  # the first arm is real
            difference = None if result.arm == ARMS[0] else usefulness.mean_std(np.subtract(values, real_values[metric]))
            record.append(Row(result.arm, metric, images, values, difference))
    return record


def to_csv(record, test_count):
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["arm", "metric", "train_images", "test_images", "runs", "mean", "std", "values",
                     "minus_real_mean", "minus_real_std"])
    for row in record:
        mean, std = usefulness.mean_std(row.values)
        difference = [f"{v:.6f}" if v is not None else "" for v in (row.difference or (None, None))]
        writer.writerow([row.arm, row.metric, row.train_images, test_count, len(row.values), f"{mean:.6f}",
                         "" if std is None else f"{std:.6f}", " ".join(f"{v:.6f}" for v in row.values), *difference])
    return text.getvalue()


def _table(header, lines):
    return [f"| {' | '.join(header)} |", "|---|" + "---:|" * (len(header) - 1), *lines, ""]


def to_markdown(record, class_names, real_counts, target, title):
    by = {(row.arm, row.metric): row for row in record}
    summary = _table(["arm", "training images", *SUMMARY.values()],
                     [f"| {arm} | {by[arm, 'macro_f1'].train_images} | "
                      + " | ".join(usefulness.plus_minus(*usefulness.mean_std(by[arm, m].values)) for m in SUMMARY) + " |"
                      for arm in ARMS])
    paired = _table(["arm", *SUMMARY.values()],
                    [f"| {arm} | " + " | ".join(usefulness.plus_minus(*by[arm, m].difference, signed=True)
                                                for m in SUMMARY) + " |" for arm in ARMS[1:]])
    per_class = _table(["class", "training images (" + " / ".join(ARMS) + ")", *ARMS],
                       [f"| {name}{' (rare)' if count < target else ''} | "
                        + " / ".join(str(by[arm, RECALL + name].train_images) for arm in ARMS) + " | "
                        + " | ".join(usefulness.plus_minus(*usefulness.mean_std(by[arm, RECALL + name].values))
                                     for arm in ARMS) + " |"
                        for name, count in zip(class_names, real_counts)])
    return "\n".join([f"{title}\n", "Mean ± std over the runs:\n", *summary,
                      "Minus real, run by run (the same real images and classifier seed):\n", *paired,
                      f"Recall per class (rare: fewer than {target} real images):\n", *per_class])


def _plot(record, class_names, real_counts, target, title, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by = {(row.arm, row.metric): row.values for row in record}
    groups = [list(SUMMARY), [RECALL + name for name in class_names]]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1, max(2, len(class_names) / 3)]})
    class_labels = [name + (" (rare)" if count < target else "") for name, count in zip(class_names, real_counts)]
    for ax, metrics, labels in zip(axes, groups, [list(SUMMARY.values()), class_labels]):
        width = 0.8 / len(ARMS)
        for i, arm in enumerate(ARMS):
            spreads = [usefulness.mean_std(by[arm, m]) for m in metrics]
            ax.bar(np.arange(len(metrics)) + (i - (len(ARMS) - 1) / 2) * width, [m for m, _ in spreads], width,
                   yerr=[s or 0.0 for _, s in spreads], capsize=3, label=arm)
        ax.set_xticks(np.arange(len(metrics)), [textwrap.fill(label, 12) for label in labels], fontsize=8)
        ax.set(ylim=(0, 1))
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("on held-out real images")
    axes[1].set_title("recall per class", fontsize=10)
    axes[0].legend(fontsize=8)
    fig.suptitle(textwrap.fill(title, 110), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def write_records(prefix, record, class_names, real_counts, target, test_count, title):
    """PREFIX.csv, PREFIX.md and PREFIX.png, each written atomically; returns the three paths."""
    return usefulness.write_views(prefix, to_csv(record, test_count),
                                  to_markdown(record, class_names, real_counts, target, title),
                                  lambda path: _plot(record, class_names, real_counts, target, title, path))
