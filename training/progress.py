"""What a training session shows a person: epoch grids, metrics.csv, losses.png, progress.gif,
and TensorBoard scalars."""
import csv
import io
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from utils import imaging

# What a training step reports, as batch means; r_t = E[sign D(real)], ADA's overfitting signal:
# 1 when the discriminator is sure of every real image, 0 when it cannot tell.
METRICS = ("g_loss", "d_loss", "d_acc_real", "d_acc_fake", "r_t")
# fid is blank on epochs without one; augment_p is the augmentation probability at the epoch's end
# (blank when the session does not augment).
COLUMNS = ("epoch",) + METRICS + ("seconds", "images_per_sec", "fid", "augment_p")


# D is sure of ~95% of the real images (r_t = 0.9) on average over the last OVERFIT_STEPS steps: it
# has memorised the set. A healthy unaugmented run on Fashion-MNIST stays between 0.2 and 0.7 after
# its start. The step count keeps the start itself out: for the first ~100 steps D beats a generator
# that draws noise, which puts r_t above 0.9 on any data (1,000 images: 0.92 for epochs 1-3 of 15 steps).
OVERFIT_SIGNAL = 0.9
OVERFIT_STEPS = 500

# progress.gif shows at most this many epoch grids, spread evenly over the run (first and last
# included): encoding costs about 0.1 s of CPU per grid of 64x64 images, so a GIF of every epoch, rewritten
# with every checkpoint, grew to 9 s of a 19 s epoch by epoch 89 of a 64x64 run.
GIF_FRAMES = 50
# Between checkpoints, progress.gif and losses.png are rewritten only once the time since their last
# write is at least their cost over this share, so they never take more than about this share of a run.
SUMMARY_SHARE = 0.1


def overfitting_warning(history):
    """A one-line warning when r_t, averaged step by step over the newest epochs of `history`
    ((r_t, steps) per epoch of this run) that make up at least OVERFIT_STEPS steps, is at least
    OVERFIT_SIGNAL; otherwise None. An average, not every epoch: a small set's epochs are a few
    steps each and their r_t scatters (1,000 images memorised over 16,000 steps: 15-step epochs
    between 0.7 and 1.0 around a mean of 0.9), so a rule that every epoch be above the line
    never fired on the run it was written for."""
    steps = total = 0
    for r_t, epoch_steps in reversed(history):
        steps += epoch_steps
        total += r_t * epoch_steps
        if steps >= OVERFIT_STEPS:
            break
    if steps < OVERFIT_STEPS or total / steps < OVERFIT_SIGNAL:
        return None
    return (f"warning: r_t averaged {total / steps:.2f} over the last {steps} steps (at or above {OVERFIT_SIGNAL}): "
            "the discriminator scores nearly every training image as real, so it has memorised the set (the "
            "README's 'Small data sets' says what to do: --set augment=color,translation,cutout --set augment_p=auto)")


class SessionProgress:
    def __init__(self, session):
        self.session = Path(session)
        self.images_dir = self.session / "images"
        self.metrics_path = self.session / "metrics.csv"
        self.gif_path = self.session / "progress.gif"
        self.plot_path = self.session / "losses.png"
        self.reals_path = self.session / "reals.png"
        self._writer = None
        self._summaries_written = None  # time.monotonic() at the end of the last write_summaries
        self._summaries_cost = 0.0  # its seconds

    def write_reals(self, training_images):
        """reals.png: training images exactly as the networks get them (cropped, resized, alpha
        composited, in the session's channels), a row per class when there are labels, so a wrong
        decode is seen before hours of training rather than after."""
        labels = training_images.labels
        canvas = imaging.training_grid(training_images.images, labels,
                                       training_images.class_names if labels is not None else None)
        imaging.write_png(self.reals_path, canvas)

    def epoch_image(self, epoch):
        return self.images_dir / f"epoch_{epoch:04d}.png"

    def epoch_grids(self):
        """The sample grids on disk, in epoch order."""
        return sorted(self.images_dir.glob("epoch_*.png"))

    def rows(self):
        if not self.metrics_path.exists():
            return []
        with open(self.metrics_path, newline="") as f:
            return [{k: float(v) if v else None for k, v in row.items()} for row in csv.DictReader(f)]

    def keep_until(self, epoch):
        """Drop what epochs after `epoch` left behind (grids, metrics rows): they will be redone."""
        for path in self.epoch_grids():
            if int(path.stem.split("_")[1]) > epoch:
                path.unlink()
        self._write_rows([row for row in self.rows() if row["epoch"] <= epoch])

    def _write_rows(self, rows):
        text = io.StringIO()
        writer = csv.DictWriter(text, COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else int(row[k]) if k == "epoch" else f"{row[k]:.6g}"
                             for k in COLUMNS})
        imaging.write_atomic(self.metrics_path, lambda target: Path(target).write_text(text.getvalue()))

    def record_epoch(self, record, samples, row_names=None):
        """Save the epoch's sample grid, append the record's metrics.csv row, log both to TensorBoard.
        record: the epoch's training.record.EpochRecord; row_names: the class of each row of samples
        (a conditional session's grid), or None."""
        self.images_dir.mkdir(parents=True, exist_ok=True)
        tiles = imaging.to_uint8(samples)
        canvas = (imaging.class_grid(tiles, row_names) if row_names
                  else imaging.grid(tiles, scale=imaging.view_scale(tiles.shape[1])))
        imaging.write_png(self.epoch_image(record.epoch), canvas)
        self._write_rows(self.rows() + [record.row()])
        self._tensorboard(record.epoch, canvas, record.scalars())

    def _tensorboard(self, epoch, canvas, scalars):
        import tensorflow as tf
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.session / "logs"))
        with self._writer.as_default(step=epoch):
            for key, value in scalars.items():
                tf.summary.scalar(key, value)
            tf.summary.image("samples", canvas[None])
        self._writer.flush()

    def gif_grids(self):
        """The epoch grids progress.gif shows: all of them, or GIF_FRAMES spread evenly from the first
        to the newest."""
        grids = self.epoch_grids()
        if len(grids) <= GIF_FRAMES:
            return grids
        return [grids[i] for i in np.linspace(0, len(grids) - 1, GIF_FRAMES).round().astype(int)]

    def write_summaries(self, throttled=False):
        """progress.gif from the epoch grids on disk, and losses.png from metrics.csv. Throttled (after
        a checkpoint mid-run), skipped while their last write is recent for its cost (SUMMARY_SHARE);
        a run's last write is not throttled. Returns whether they were written."""
        start = time.monotonic()
        if throttled and self._summaries_written is not None and \
                start - self._summaries_written < self._summaries_cost / SUMMARY_SHARE:
            return False
        frames = [iio.imread(p) for p in self.gif_grids()]
        if frames:
            # The last frame lingers so the newest result can be looked at.
            durations = [250] * (len(frames) - 1) + [2000] if len(frames) > 1 else 2000
            imaging.write_atomic(self.gif_path, lambda t: iio.imwrite(
                t, np.stack(frames), duration=durations, loop=0, extension=".gif"))
        rows = self.rows()
        if rows:
            imaging.write_atomic(self.plot_path, lambda t: _plot(rows, t))
        self._summaries_written = time.monotonic()
        self._summaries_cost = self._summaries_written - start
        return True


def _plot(rows, path):
    figure = plot_figure(rows)
    figure.savefig(path, format="png", dpi=100)


DOTTED_EPOCHS = 100  # up to this many epochs, losses.png marks each with a dot


def plot_figure(rows):
    """losses.png as a matplotlib Figure: losses, discriminator accuracy, FID when an epoch has
    one, r_t and augment p when an epoch has r_t. A Figure of its own, not pyplot's, so nothing
    global is left open."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in rows]
    # A dot per epoch shows where the records are; over hundreds of short epochs (a small set)
    # the dots merge into a band that hides the curve, so long runs get a thin line alone.
    style = {"marker": "."} if len(rows) <= DOTTED_EPOCHS else {"linewidth": 0.8}
    scored = [r for r in rows if r.get("fid") is not None]
    signalled = [r for r in rows if r.get("r_t") is not None]
    panels = 2 + bool(scored) + bool(signalled)
    fig = Figure(figsize=(5 * panels + 1, 4))
    axes = fig.subplots(1, panels)
    losses, accuracy = axes[:2]
    losses.plot(epochs, [r["g_loss"] for r in rows], label="generator", **style)
    losses.plot(epochs, [r["d_loss"] for r in rows], label="discriminator", **style)
    losses.set(xlabel="epoch", ylabel="loss", title="Losses")
    accuracy.plot(epochs, [r["d_acc_real"] for r in rows], label="D on real", **style)
    accuracy.plot(epochs, [r["d_acc_fake"] for r in rows], label="D on fake", **style)
    accuracy.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1), title="Discriminator accuracy")
    legends = [losses, accuracy]
    if scored:
        axes[2].plot([r["epoch"] for r in scored], [r["fid"] for r in scored], marker="o", color="tab:green")
        axes[2].set(xlabel="epoch", ylabel="FID (lower is better)", title="FID")
    if signalled:
        overfit = axes[-1]
        overfit.plot([r["epoch"] for r in signalled], [r["r_t"] for r in signalled], label="r_t", **style)
        augmented = [r for r in rows if r.get("augment_p") is not None]
        if augmented:
            overfit.plot([r["epoch"] for r in augmented], [r["augment_p"] for r in augmented], label="augment p",
                         **style)
        overfit.set(xlabel="epoch", ylim=(0, 1), title="Overfitting signal r_t and augment p")
        legends.append(overfit)
    for ax in axes:
        ax.grid(alpha=0.3)
        # Epochs are whole numbers: a short run would otherwise get ticks at 1.5, 2.5. One integer
        # is enough: a single FID epoch spans 1.9..2.1, where the default of two falls back to fractions.
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    for ax in legends:
        ax.legend()
    fig.tight_layout()
    return fig
