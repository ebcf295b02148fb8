"""What the Data Generator window (app.py) knows, without Tk: the sessions on disk, the form's
defaults and checks, the command lines it runs, and how it follows a run through the records
the training script appends to the session's events.jsonl (never through its printed text).
No TensorFlow is loaded here: the form is checked with the config validator and the plan alone.

The window never trains or generates itself: it runs DCGAN_train.py, generate_img.py and
compute_fid.py as subprocesses and reads the session folders. Checking the training form calls
training.plan, as DCGAN_train.py does, with the very --set pairs the command line will carry
(config.parse_overrides, then config.validate inside): the window refuses exactly what the
script would refuse, with the same message, before anything starts.
"""
import functools
import math
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from data.datasets import decode_image, load_idx_dataset, scan_folder
from generation import classes as class_lib
from training import config as config_lib
from training import events, sessions
from training.plan import plan
from training.progress import SessionProgress
from utils import cli, imaging
from utils.errors import UserError

REPO = Path(__file__).resolve().parent.parent
TRAIN_SCRIPT, GENERATE_SCRIPT, FID_SCRIPT = "DCGAN_train.py", "generate_img.py", "compute_fid.py"

# (key, label) of the training form, in display order. "epochs" is DCGAN_train.py's EPOCHS
# argument; every other key is a config key passed as --set key=value.
TRAIN_FIELDS = (
    ("noise_dim", "Noise size"), ("epochs", "Epochs"), ("batch_size", "Batch size"),
    ("image_size", "Image size"), ("channels", "Channels (1 or 3)"), ("g_lr", "G learning rate"),
    ("d_lr", "D learning rate"), ("beta1", "Adam beta1"),
    ("label_smoothing", "Label smoothing"), ("init_std", "Weight-init std"),
)
CONFIG_FIELDS = tuple(key for key, _ in TRAIN_FIELDS if key != "epochs")
NEW_SESSION_EPOCHS = 10  # the Epochs field's value for a new session
MORE_EPOCHS = 10  # ... and for a selected one: its newest checkpoint plus this, ready for Resume
EXAMPLES = 21  # thumbnails in the data set panel, 7 x 3
EXAMPLE_COLUMNS = 7
FOLDER_EXAMPLE_SIZE = 64  # a browsed folder has no session yet: shown at 64x64 RGB
ALL_CLASSES = "all classes"  # the Generate box's class choice that leaves out --class


# --- Sessions --------------------------------------------------------------------------------

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


# --- Form defaults and checks ----------------------------------------------------------------

def prefill(summary=None):
    """{field: text} for the training form: the session's stored config, else the defaults."""
    cfg = summary.cfg if summary is not None and summary.cfg else config_lib.load_config()
    epochs = NEW_SESSION_EPOCHS if summary is None else (summary.newest or 0) + MORE_EPOCHS
    return dict({key: str(cfg[key]) for key in CONFIG_FIELDS}, epochs=str(epochs))


def _overrides(fields):
    """The --set pairs of the form, as typed: the script reads them exactly as checked here."""
    labels = dict(TRAIN_FIELDS)
    for key, _ in TRAIN_FIELDS:
        if not str(fields.get(key, "")).strip():
            raise UserError(f"{labels[key]} is empty: enter a value.")
    return [f"{key}={str(fields[key]).strip()}" for key in CONFIG_FIELDS]


def _script(name, scripts_dir):
    return [sys.executable, str(Path(scripts_dir) / name)]


def train_command(fields, root, base=None, data_folder=None, scripts_dir=REPO):
    """(session number, command) of a new session; UserError when the script would refuse.

    base: a SessionSummary whose stored config the new session starts from (--config), so
    settings the form does not show (filters, seed, data set) carry over; None = the defaults.
    """
    pairs = _overrides(fields)
    epochs = cli.parse_count(fields["epochs"], "Epochs", minimum=1)
    number = next_session_number(root)
    base_config = str(base.folder / "config.yaml") if base is not None else None
    plan(root, number, epochs, None, base_config, config_lib.parse_overrides(pairs), data_folder)
    command = _script(TRAIN_SCRIPT, scripts_dir) + ["--checkpoint-root", str(root)]
    command += ["--config", base_config] if base_config else []
    command += ["--data", str(data_folder)] if data_folder else []
    for pair in pairs:
        command += ["--set", pair]
    return number, command + [str(number), str(epochs)]


def resume_command(fields, root, summary, scripts_dir=REPO):
    """The command continuing a session from its newest checkpoint up to the Epochs field."""
    pairs = _overrides(fields)
    epochs = cli.parse_count(fields["epochs"], "Epochs", minimum=1)
    if summary.newest is None:
        raise UserError(f"Session {summary.number} has no checkpoint to resume from: train a new session instead.")
    plan(root, summary.number, epochs, summary.newest, None, config_lib.parse_overrides(pairs))
    command = _script(TRAIN_SCRIPT, scripts_dir) + ["--checkpoint-root", str(root), "-r", str(summary.newest)]
    for pair in pairs:
        command += ["--set", pair]
    return command + [str(summary.number), str(epochs)]


def generate_command(root, summary, num, seed="", epoch="", out_dir=None, class_name="", scripts_dir=REPO):
    """generate_img.py for a session; seed and epoch may be blank (a fresh seed, the newest epoch).
    class_name: one class of a conditional session (a name or an index), or blank / ALL_CLASSES
    for every class; refused as the script refuses it."""
    if summary.cfg is None:
        raise UserError(summary.problem)
    count = cli.parse_count(num, "Number of images", minimum=1)
    command = _script(GENERATE_SCRIPT, scripts_dir) + ["--checkpoint-root", str(root)]
    if str(epoch).strip():
        chosen = cli.parse_count(epoch, "Checkpoint epoch", minimum=1)
        sessions.pick_checkpoint(summary.folder, chosen)  # the script's own "no checkpoint for epoch" message
        command += ["--epoch", str(chosen)]
    elif summary.newest is None:
        raise UserError(f"Session {summary.number} has no checkpoint yet: train it first.")
    if str(seed).strip():
        command += ["--seed", str(cli.parse_count(seed, "Seed"))]
    picked = class_name.strip() if class_name.strip() != ALL_CLASSES else ""
    class_lib.choose(summary.class_names, [picked] if picked else [], summary.number, option="the Class choice")
    command += ["--class", picked] if picked else []
    command += ["--out", str(out_dir)] if out_dir else []
    return command + [str(summary.number), str(summary.cfg["noise_dim"]), str(count)]


def class_choices(summary):
    """The Generate box's class choices: every class, then each class by name; none when unconditional."""
    return [ALL_CLASSES, *summary.class_names] if summary is not None and summary.class_names else []


def output_folder(folder, class_name):
    """The augmentation layout: images of one class go to FOLDER/CLASS_NAME."""
    name = class_name.strip()
    if not name or name in (".", "..") or "/" in name or os.sep in name:
        raise UserError(f"Class name '{class_name}' must be one folder name, e.g. sneaker.")
    return Path(folder) / name


def save_folder(summary, folder, class_name):
    """Where Save to folder sends generate_img.py: a conditional session writes FOLDER/<class>/ itself,
    an unconditional one is the single class CLASS_NAME, in FOLDER/CLASS_NAME."""
    return Path(folder) if summary.class_names else output_folder(folder, class_name)


def default_class_name(cfg):
    return Path(cfg["data_dir"]).name if cfg["dataset"] == "folder" else cfg["dataset"]


def grid_path(summary):
    """Where generate_img.py puts its preview grid by default."""
    return summary.folder / "grid.png"


def fid_command(root, summary, scripts_dir=REPO):
    """compute_fid.py for a session at its newest checkpoint, with the session's fid_num and fid_weights."""
    if summary.cfg is None:
        raise UserError(summary.problem)
    if summary.newest is None:
        raise UserError(f"Session {summary.number} has no checkpoint yet: train it first.")
    command = _script(FID_SCRIPT, scripts_dir) + ["--checkpoint-root", str(root), "--fake", str(summary.number),
                                                  "--num", str(summary.cfg["fid_num"])]
    command += ["--weights", summary.cfg["fid_weights"]] if summary.cfg["fid_weights"] else []
    return command


def script_env():
    """Lines arrive as they are printed, and TensorFlow's start-up chatter stays out of them."""
    return dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")


class ScriptJob:
    """A script in a subprocess. Threads read its pipes (a full pipe would block the script) and
    put (callback, value) pairs on `events`, a queue the window's thread empties: Tk may only be
    touched from its own thread. on_line gets each stdout line, on_done the exit code."""

    def __init__(self, command, events, on_line, on_done):
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        bufsize=1, cwd=REPO, env=script_env())
        self.script, self.stdout, self.stderr = Path(command[1]).name, [], []
        errors = threading.Thread(target=lambda: self.stderr.extend(self.process.stderr), daemon=True)
        errors.start()
        threading.Thread(target=self._read, args=(events, on_line, on_done, errors), daemon=True).start()

    def _read(self, events, on_line, on_done, errors):
        for line in self.process.stdout:
            self.stdout.append(line)
            events.put((on_line, line.rstrip("\n")))
        errors.join()
        events.put((on_done, self.process.wait()))


# --- Reading what the scripts record ---------------------------------------------------------

_FID = re.compile(r"^FID: (\S+)\s*$", re.MULTILINE)
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


def duration(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


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


def parse_fid(stdout):
    values = _FID.findall(stdout)
    return float(values[-1]) if values else None


def failure_message(script, returncode, stderr):
    """What to tell the user when a script ended with `returncode`; None when it succeeded.

    The scripts print a user's mistake as 'error: <message>' (exit code 2): that message is the
    whole story. Anything else is a crash, described by its last stderr line.
    """
    if returncode == 0:
        return None
    lines = [line.rstrip() for line in stderr.splitlines()]
    starts = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    if starts:
        message = "\n".join(lines[starts[-1]:]).strip()
        return message[len("error: "):]
    if returncode < 0:
        return f"{script} was ended by signal {-returncode}."
    last = next((line.strip() for line in reversed(lines) if line.strip()), "no message")
    return f"{script} failed (exit code {returncode}): {last}"


def training_outcome(returncode, message, records):
    """The status line when DCGAN_train.py has ended (`message`: its failure_message; `records`:
    the run's events)."""
    if returncode in STOPPED_CODES:
        stops = [record for record in records if record.get("event") == "stop" and record.get("resume")]
        return "Stopped; the completed epochs are saved." + (f" To continue: {stops[-1]['resume']}" if stops else "")
    return "Training failed: see the message." if message else "Training finished."


# --- Images ----------------------------------------------------------------------------------

def fit_image(image, box):
    """A PIL image scaled to fit box (width, height). Enlarging is by a whole factor with nearest
    neighbours, so 28x28 tiles stay crisp; shrinking is smooth."""
    scale = min(box[0] / image.width, box[1] / image.height)
    if scale >= 1:
        factor = int(scale)
        return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
    size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _no_download(name):
    raise RuntimeError("the app shows examples only from files already on disk")


def _spread(count, wanted):
    """Indices of `wanted` items spread over `count` (all when fewer), seeded so they stay put."""
    if count <= wanted:
        return np.arange(count)
    return np.sort(np.random.default_rng(0).choice(count, wanted, replace=False))


@functools.lru_cache(maxsize=8)
def example_grid(dataset, data_dir, size, channels):
    """A (H, W, C) uint8 grid of about 21 training images, as the network sees them (cropped,
    resized); UserError when the data cannot be found. Never downloads."""
    if dataset == "folder":
        candidates, _ = scan_folder(data_dir) if Path(data_dir).is_dir() else ([], [])
        tiles = []
        for index in _spread(len(candidates), 3 * EXAMPLES):  # extra picks stand in for broken files
            try:
                tiles.append(decode_image(candidates[index], size, channels))
            except Exception:  # Pillow raises many types; a broken file is just not shown
                continue
            if len(tiles) == EXAMPLES:
                break
        if not tiles:
            raise UserError(f"No usable image in {data_dir}: it needs .jpg, .png, .bmp or .gif files.")
        tiles = np.stack(tiles)
    else:
        images, _ = load_idx_dataset(dataset, data_dir, download=_no_download)
        tiles = images[_spread(len(images), EXAMPLES)][..., None]  # IDX files are 28x28 grayscale
    return imaging.grid(tiles, columns=min(EXAMPLE_COLUMNS, len(tiles)))


def examples_for(cfg=None, data_folder=None):
    """The example grid of a browsed folder, else of a session's (or the default) config."""
    if data_folder:
        return example_grid("folder", str(data_folder), FOLDER_EXAMPLE_SIZE, 3)
    cfg = cfg or config_lib.load_config()
    return example_grid(cfg["dataset"], cfg["data_dir"], cfg["image_size"], cfg["channels"])
