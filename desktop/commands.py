"""The window's forms and the command lines they become: DCGAN_train.py, generate_img.py and
compute_fid.py, run as subprocesses. No TensorFlow is loaded here: the form is checked with the
config validator and the plan alone.

Checking the training form calls training.plan, as DCGAN_train.py does, with the very --set pairs
the command line will carry (config.parse_overrides, then config.validate inside): the window
refuses exactly what the script would refuse, with the same message, before anything starts.
"""
import os
import sys
from pathlib import Path

from desktop import REPO
from desktop.summaries import next_session_number
from generation import classes as class_lib
from training import config as config_lib
from training import sessions
from training.plan import plan
from utils import cli
from utils.errors import UserError

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
ALL_CLASSES = "all classes"  # the Generate box's class choice that leaves out --class


# --- Training form -----------------------------------------------------------------------------

def prefill(summary=None):
    """{field: text} for the training form: the session's stored config, else the defaults."""
    cfg = summary.cfg if summary is not None and summary.cfg else config_lib.load_config()
    epochs = NEW_SESSION_EPOCHS if summary is None else (summary.newest or 0) + MORE_EPOCHS
    return dict({key: str(cfg[key]) for key in CONFIG_FIELDS}, epochs=str(epochs))


def _read_form(fields):
    """(--set pairs, epochs) of the training form. The pairs are as typed: the script reads them
    exactly as checked here."""
    labels = dict(TRAIN_FIELDS)
    for key, _ in TRAIN_FIELDS:
        if not str(fields.get(key, "")).strip():
            raise UserError(f"{labels[key]} is empty: enter a value.")
    pairs = [f"{key}={str(fields[key]).strip()}" for key in CONFIG_FIELDS]
    return pairs, cli.parse_count(fields["epochs"], "Epochs", minimum=1)


def _script(name, scripts_dir):
    return [sys.executable, str(Path(scripts_dir) / name)]


def _training(root, number, epochs, pairs, scripts_dir, restore=None, base_config=None, data_folder=None):
    """DCGAN_train.py's command line, after the plan the script itself makes has accepted it."""
    plan(root, number, epochs, restore, base_config, config_lib.parse_overrides(pairs), data_folder)
    command = _script(TRAIN_SCRIPT, scripts_dir) + ["--checkpoint-root", str(root)]
    command += ["-r", str(restore)] if restore is not None else []
    command += ["--config", base_config] if base_config else []
    command += ["--data", str(data_folder)] if data_folder else []
    for pair in pairs:
        command += ["--set", pair]
    return command + [str(number), str(epochs)]


def train_command(fields, root, base=None, data_folder=None, scripts_dir=REPO):
    """(session number, command) of a new session; UserError when the script would refuse.

    base: a SessionSummary whose stored config the new session starts from (--config), so
    settings the form does not show (filters, seed, data set) carry over; None = the defaults.
    """
    pairs, epochs = _read_form(fields)
    number = next_session_number(root)
    base_config = str(base.folder / "config.yaml") if base is not None else None
    return number, _training(root, number, epochs, pairs, scripts_dir, base_config=base_config,
                             data_folder=data_folder)


def resume_command(fields, root, summary, scripts_dir=REPO):
    """The command continuing a session from its newest checkpoint up to the Epochs field."""
    pairs, epochs = _read_form(fields)
    if summary.newest is None:
        raise UserError(f"Session {summary.number} has no checkpoint to resume from: train a new session instead.")
    return _training(root, summary.number, epochs, pairs, scripts_dir, restore=summary.newest)


# --- Generate and FID --------------------------------------------------------------------------

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
