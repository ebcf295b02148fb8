"""The sessions under a checkpoint root, as the window's session list shows them."""
import math
from dataclasses import dataclass, field
from pathlib import Path

from training import sessions
from training.progress import SessionProgress
from utils.errors import UserError


@dataclass
class SessionSummary:
    number: int
    folder: Path
    cfg: dict = None  # the stored config, or None when it cannot be read
    problem: str = None  # why cfg is None
    checkpoints: list = field(default_factory=list)  # epochs with a complete checkpoint
    epochs_trained: int = 0  # the last epoch in metrics.csv
    best_fid: float = None  # lowest value of a `fid` column in metrics.csv, when there is one

    @property
    def newest(self):
        return max(self.checkpoints) if self.checkpoints else None

    @property
    def class_names(self):
        """A conditional session's classes in label order; None for an unconditional (or unreadable) one."""
        return list(self.cfg["class_names"]) if self.cfg and self.cfg["conditional"] else None

    def row(self):
        """The session list's cells: number, data set, image size, epochs, newest checkpoint, number of
        classes (blank when unconditional), best FID."""
        shape = f"{self.cfg['image_size']}x{self.cfg['image_size']}x{self.cfg['channels']}" if self.cfg else "?"
        classes = len(self.class_names) if self.class_names else ""
        return (self.number, dataset_label(self.cfg) if self.cfg else "unreadable config", shape,
                self.epochs_trained, self.newest or "none", classes,
                "" if self.best_fid is None else f"{self.best_fid:.4g}")


def dataset_label(cfg):
    if cfg["dataset"] == "folder":
        return f"folder {Path(cfg['data_dir']).name}"
    return cfg["dataset"] + (f" ({cfg['data_dir']})" if cfg["data_dir"] else "")


def summarize(root, number):
    folder = sessions.session_dir(root, number)
    epochs = sessions.checkpoint_epochs(folder, report_fallback=False)
    summary = SessionSummary(number, folder, checkpoints=list(epochs))
    try:
        summary.cfg = sessions.read_stored_config(folder)
    except UserError as e:  # a session still starting, or a damaged one: listed, not fatal
        summary.problem = str(e)
    rows = SessionProgress(folder).rows()
    summary.epochs_trained = int(max((row["epoch"] or 0) for row in rows)) if rows else 0
    fids = [row["fid"] for row in rows if row.get("fid") is not None and math.isfinite(row["fid"])]
    summary.best_fid = min(fids) if fids else None
    return summary


def list_sessions(root):
    return [summarize(root, number) for number in sessions.session_numbers(root)]


def next_session_number(root):
    return max(sessions.session_numbers(root), default=0) + 1


def session_folder(root, number):
    return sessions.session_dir(root, number)


def epoch_grids(session):
    return SessionProgress(session).epoch_grids()


def epoch_grid(root, number, epoch):
    return SessionProgress(sessions.session_dir(root, number)).epoch_image(epoch)
