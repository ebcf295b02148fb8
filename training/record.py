"""An epoch's numbers, gathered once into an EpochRecord: the console line, the metrics.csv row,
the events.jsonl record and the TensorBoard scalars are all views of it, so they cannot disagree.

metrics.csv keeps what was measured; the estimate of the time left is in every other view (a
forecast in a table of past epochs would be stale the moment a run is resumed).
"""
from dataclasses import dataclass

from training.progress import METRICS
from utils.console import duration


@dataclass
class EpochRecord:
    epoch: int
    last_epoch: int
    metrics: dict  # METRICS: batch means over the epoch
    seconds: float  # the epoch's training steps, wall clock
    images_per_sec: float
    run_eta: float  # seconds left in the run, estimated (training/clock.py)
    saved: bool  # ckpt-E is written at the end of this epoch
    augment_p: float = None  # at the epoch's end; None when the session does not augment
    fid: float = None  # None on epochs without one
    best_fid: tuple = None  # (FID, epoch) of the session's best epoch so far, on epochs with a FID
    expected_seconds: float = None  # the run's expected duration, on the run's first epoch only

    def measured(self):
        """What was measured, keyed as metrics.csv's columns; fid and augment_p only when there are."""
        optional = {"augment_p": self.augment_p, "fid": self.fid}
        return dict(self.metrics, seconds=self.seconds, images_per_sec=self.images_per_sec,
                    **{k: v for k, v in optional.items() if v is not None})

    def row(self):
        """metrics.csv's row."""
        return dict(self.measured(), epoch=self.epoch)

    def scalars(self):
        """TensorBoard's scalars at step `epoch`."""
        return dict(self.measured(), run_eta=self.run_eta)

    def event(self):
        """The fields of events.jsonl's epoch record."""
        measured = self.measured()
        timing = {k: measured.pop(k) for k in ("seconds", "images_per_sec")}
        return dict(epoch=self.epoch, last_epoch=self.last_epoch, saved=self.saved, metrics=measured, **timing,
                    run_eta=self.run_eta)

    def line(self):
        """The console line, for people (programs read the event)."""
        parts = [f"epoch {self.epoch}/{self.last_epoch}", *(f"{k} {self.metrics[k]:.4f}" for k in METRICS)]
        if self.augment_p is not None:
            parts.append(f"augment_p {self.augment_p:.3f}")
        parts += [f"{self.seconds:.0f}s", f"{self.images_per_sec:.0f} img/s"]
        if self.fid is not None:
            parts.append(f"FID {self.fid:.2f} (best {self.best_fid[0]:.2f} at epoch {self.best_fid[1]})")
        if self.saved:
            parts.append(f"saved ckpt-{self.epoch}")
        left = f"run {duration(self.run_eta)} left"
        if self.expected_seconds is not None:
            epochs = self.last_epoch - self.epoch + 1
            left += f" (expected run time {duration(self.expected_seconds)} for {epochs} epoch{'s' * (epochs != 1)})"
        return "  ".join(parts + [left])
