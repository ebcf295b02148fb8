"""Training sessions on disk and the state their checkpoints hold.

Session N lives in <checkpoint root>/training_N/: config.yaml (the resolved config), the
tf.train checkpoints ckpt-E (state at the end of epoch E) listed by the `checkpoint` state file,
images/, metrics.csv, losses.png, progress.gif, logs/ and, for a conditional session,
class_counts.json (its training images per class). Every reader of a session
(training with -r, generate_img.py, compute_fid.py) rebuilds the networks from config.yaml and
restores with an assertion that every value matched (training/state.py).

Plain Python, no TensorFlow: the app lists sessions and checks a form with this module alone.
"""
import json
import re
import shutil
from pathlib import Path

import yaml

from training import config as config_lib
from utils import imaging
from utils.errors import UserError, warn

CHECKPOINT_NAME = "ckpt"
STATE_FILE = "checkpoint"
CLASS_COUNTS_FILE = "class_counts.json"  # {class name: training images}, in label order
_SESSION_DIR = re.compile(r"^training_(\d+)$")
_CHECKPOINT = re.compile(rf"^{CHECKPOINT_NAME}-(\d+)$")


def session_dir(root, number):
    return Path(root) / f"training_{number}"


def session_numbers(root):
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(int(m.group(1)) for p in root.iterdir() if p.is_dir() and (m := _SESSION_DIR.match(p.name)))


def read_stored_config(session):
    path = Path(session) / "config.yaml"
    try:
        stored = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path} is missing, so the session's networks cannot be rebuilt. "
                        "Restore it from a backup, or start a new session number.") from None
    except yaml.YAMLError:
        raise UserError(f"{path} is not valid YAML. Restore it from a backup, or start a new session.") from None
    try:
        # Keys added to the tool after the session was created take their defaults, which keep
        # the behaviour the session was trained with; unknown keys are still refused.
        defaults = {**config_lib.read_yaml(config_lib.DEFAULT_CONFIG), **config_lib.VALUE_BEFORE_THE_KEY}
        return config_lib.validate({**defaults, **(stored if isinstance(stored, dict) else {})})
    except UserError as e:
        raise UserError(f"{path} is not a valid session config: {e}") from None


def _complete_on_disk(session):
    """{epoch: prefix} of checkpoints whose index and every data shard are present."""
    epochs = {}
    for index in Path(session).glob(f"{CHECKPOINT_NAME}-*.index"):
        match = _CHECKPOINT.match(index.stem)
        shards = list(index.parent.glob(f"{index.stem}.data-*-of-*"))
        if match and shards and len(shards) == int(shards[0].name.rsplit("-of-", 1)[1]):
            epochs[int(match.group(1))] = str(index.with_suffix(""))
    return epochs


_STATE_LINE = re.compile(r'^(model_checkpoint_path|all_model_checkpoint_paths): "(.*)"$')
_STAMP_LINE = re.compile(r"^(all_model_checkpoint_timestamps|last_preserved_timestamp): \S+$")


def _read_state(session):
    """The epochs the state file lists, or None when it is missing or unreadable.

    The file is the text proto tf.train.CheckpointManager writes; it is read here without
    TensorFlow, and anything but its four kinds of line counts as damage (as TensorFlow's own
    reader refuses it), as does a file that names no newest checkpoint.
    """
    try:
        lines = (Path(session) / STATE_FILE).read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    newest, listed = None, []
    for line in filter(None, (line.strip() for line in lines)):
        if _STAMP_LINE.match(line):
            continue
        match = _STATE_LINE.match(line)
        if not match:
            return None
        if match.group(1) == "model_checkpoint_path":
            newest = match.group(2)
        else:
            listed.append(match.group(2))
    if newest is None:
        return None
    return [int(m.group(1)) for p in listed if (m := _CHECKPOINT.match(Path(p).name))]


def checkpoint_epochs(session, report_fallback=True):
    """{epoch: prefix} of the complete checkpoints of a session, in epoch order.

    The state file is the record of which saves finished; a save killed midway never reaches it.
    Entries whose files are gone (a kill while old checkpoints were being deleted) are left out.
    When the state file itself is damaged or missing, the complete checkpoints on disk are used.
    """
    on_disk = _complete_on_disk(session)
    listed = _read_state(session)
    if listed is None:
        if on_disk and report_fallback:
            warn(f"the checkpoint state file of {session} is missing or damaged; using the complete "
                 f"checkpoints found on disk (epochs {', '.join(map(str, sorted(on_disk)))}).")
        return dict(sorted(on_disk.items()))
    return {epoch: on_disk[epoch] for epoch in sorted(listed) if epoch in on_disk}


def reconcile(session):
    """Make the folder match its checkpoint list: remove what interrupted saves and deletions left
    behind, and rewrite the state file. Called only once training goes ahead."""
    session = Path(session)
    kept = checkpoint_epochs(session, report_fallback=False)
    kept_names = {Path(prefix).name for prefix in kept.values()}
    for path in session.glob(f"{CHECKPOINT_NAME}-*"):
        if path.name.split(".")[0] not in kept_names:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    if kept and _read_state(session) != list(kept):
        _write_state(session, kept)


def _write_state(session, kept):
    """The `checkpoint` state file (a text proto) listing `kept`. Each entry needs its timestamp:
    CheckpointManager stops tracking, and never prunes, entries without one."""
    stamps = {epoch: Path(f"{prefix}.index").stat().st_mtime for epoch, prefix in kept.items()}
    lines = [f'model_checkpoint_path: "{Path(kept[max(kept)]).name}"']
    lines += [f'all_model_checkpoint_paths: "{Path(prefix).name}"' for prefix in kept.values()]
    lines += [f"all_model_checkpoint_timestamps: {stamps[epoch]!r}" for epoch in kept]
    lines += [f"last_preserved_timestamp: {min(stamps.values()) - 1.0!r}"]
    imaging.write_atomic(Path(session) / STATE_FILE, lambda t: Path(t).write_text("\n".join(lines) + "\n"))


def find_session(root, number):
    """The folder of an existing session with at least one checkpoint."""
    session = session_dir(root, number)
    if not session.is_dir():
        known = session_numbers(root)
        listing = f"Sessions there: {', '.join(map(str, known))}." if known else "There are no sessions there yet."
        raise UserError(f"Session {number} does not exist under {root}. {listing}")
    if not checkpoint_epochs(session):
        raise UserError(f"Session {number} ({session}) has no checkpoint yet. Train it first: "
                        f"python DCGAN_train.py {number} EPOCHS")
    return session


def pick_checkpoint(session, epoch=None):
    """(epoch, prefix) of the requested epoch's checkpoint, or of the newest one."""
    epochs = checkpoint_epochs(session)
    if epoch is None:
        epoch = max(epochs)
    if epoch not in epochs:
        raise UserError(f"{session} has no checkpoint for epoch {epoch}. Epochs with a checkpoint: "
                        f"{', '.join(map(str, epochs)) or 'none'}.")
    return epoch, epochs[epoch]


def write_class_counts(session, class_names, counts):
    """Store a conditional session's training images per class, {class name: count} in label order:
    what the loop trains on, so generate_img.py --balance tops the classes up without the data."""
    text = json.dumps(dict(zip(class_names, map(int, counts))), indent=1, ensure_ascii=False) + "\n"
    imaging.write_atomic(Path(session) / CLASS_COUNTS_FILE, lambda target: Path(target).write_text(text))


def read_class_counts(session, class_names):
    """The stored training images per class as a list in label order, or None for a session trained
    before they were stored. Refused when the file names other classes than the config."""
    path = Path(session) / CLASS_COUNTS_FILE
    try:
        stored = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise UserError(f"{path} cannot be read ({e}). Delete it: the counts are then taken from the "
                        "session's training data.") from None
    if not isinstance(stored, dict) or list(stored) != list(class_names) or \
            not all(isinstance(count, int) and count >= 0 for count in stored.values()):
        raise UserError(f"{path} does not hold a count for each of the session's classes {list(class_names)}, in "
                        "that order. Delete it: the counts are then taken from the session's training data.")
    return list(stored.values())
