"""A running training followed through the records DCGAN_train.py appends to the session's
events.jsonl (never through its printed text), and the window's status lines about it."""
import math
from dataclasses import dataclass
from pathlib import Path

from training import events
from utils.console import duration

STOPPED_CODES = (130, 143)  # DCGAN_train.py after SIGINT / SIGTERM, the last epoch saved


@dataclass
class Progress:
    kind: str  # "step" (a few a second at most) or "epoch" (an epoch's summary)
    epoch: int
    last_epoch: int
    metrics: dict
    step: int = None
    steps: int = None
    eta: float = None  # seconds left in this epoch
    seconds: float = None  # the epoch's duration
    images_per_sec: float = None
    saved: int = None  # the epoch whose checkpoint was saved


def _metrics(record):
    return {key: math.nan if value is None else float(value) for key, value in record.get("metrics", {}).items()}


def progress_from_event(record):
    """A Progress for a step or epoch record of events.jsonl; None for any other record."""
    try:
        if record["event"] == "step":
            return Progress("step", int(record["epoch"]), int(record["last_epoch"]), _metrics(record),
                            int(record["step"]), int(record["steps"]), float(record["eta"]))
        if record["event"] == "epoch":
            return Progress("epoch", int(record["epoch"]), int(record["last_epoch"]), _metrics(record),
                            seconds=float(record["seconds"]), images_per_sec=float(record["images_per_sec"]),
                            saved=int(record["epoch"]) if record.get("saved") else None)
    except (KeyError, TypeError, ValueError):  # a record of another version of the tool: not shown
        return None
    return None


class EventTail:
    """The records a run appends to a session's events.jsonl, from the moment this is created:
    records of earlier runs are not this run's progress."""

    def __init__(self, session):
        self.path = Path(session) / events.FILE_NAME
        self.offset = self.path.stat().st_size if self.path.exists() else 0
        self.seen = []

    def read(self):
        records, self.offset = events.read_events(self.path, self.offset)
        self.seen += records
        return records


def total_eta(progress):
    """Seconds until the last epoch ends, assuming later epochs take as long as this one."""
    if progress.kind == "epoch":
        return progress.seconds * (progress.last_epoch - progress.epoch)
    if progress.step >= progress.steps:
        return None  # the epoch's summary line says how long an epoch took
    epoch_seconds = progress.eta / (progress.steps - progress.step) * progress.steps
    return progress.eta + epoch_seconds * (progress.last_epoch - progress.epoch)


def describe_progress(progress):
    """One status line for the window."""
    losses = "  ".join(f"{key} {value:.4f}" for key, value in progress.metrics.items())
    left = total_eta(progress)
    eta = f", about {duration(left)} left" if left else ""
    if progress.kind == "step":
        return f"Epoch {progress.epoch}/{progress.last_epoch}, step {progress.step}/{progress.steps}{eta}.  {losses}"
    saved = f", saved checkpoint {progress.saved}" if progress.saved else ""
    return (f"Epoch {progress.epoch}/{progress.last_epoch} done in {duration(progress.seconds)} "
            f"({progress.images_per_sec:.0f} img/s){saved}{eta}.  {losses}")


def fraction_done(progress):
    """How far the whole run is, 0..1, for a progress bar."""
    within = progress.step / progress.steps if progress.kind == "step" else 1.0
    return min(1.0, (progress.epoch - 1 + within) / progress.last_epoch)


def training_outcome(returncode, message, records):
    """The status line when DCGAN_train.py has ended (`message`: its failure_message; `records`:
    the run's events)."""
    if returncode in STOPPED_CODES:
        stops = [record for record in records if record.get("event") == "stop" and record.get("resume")]
        return "Stopped; the completed epochs are saved." + (f" To continue: {stops[-1]['resume']}" if stops else "")
    return "Training failed: see the message." if message else "Training finished."
