"""Planning a training run: every check that could refuse it, before any file is written.

Plain Python, no TensorFlow: the app checks its training form with the very same plan().
"""
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from data.datasets import class_names_of, resolve_data_arg
from data.labels import check_class_counts
from training import config as config_lib
from training import sessions
from utils.cli import DEFAULT_CHECKPOINT_ROOT
from utils.errors import UserError


@dataclass
class Plan:
    root: Path
    number: int
    cfg: dict
    last_epoch: int
    restore_epoch: int = 0
    restore_prefix: str = None
    config_changes: list = field(default_factory=list)

    @property
    def session(self):
        return sessions.session_dir(self.root, self.number)

    def resume_command(self, epoch, last_epoch=None):
        root = "" if Path(self.root) == Path(DEFAULT_CHECKPOINT_ROOT) else f" --checkpoint-root {shlex.quote(str(self.root))}"
        return f"python DCGAN_train.py{root} -r {epoch} {self.number} {last_epoch or self.last_epoch}"


def plan(root, number, epochs, restore_epoch=None, config_path=None, overrides=None, data_arg=None):
    """Resolve the config and check the session; raise UserError before anything is written."""
    root = Path(root)
    session = sessions.session_dir(root, number)
    if restore_epoch is None:
        existing = sessions.checkpoint_epochs(session) if session.is_dir() else {}
        if existing:
            newest = max(existing)
            raise UserError(
                f"Session {number} already has checkpoints (epochs {', '.join(map(str, existing))}); nothing "
                f"was changed. To continue it: "
                f"{Plan(root, number, {}, epochs).resume_command(newest, max(epochs, newest + 1))}. "
                f"To start over, use a new session number.")
        cfg = _resolve(config_lib.merge(config_path, overrides), data_arg)
        result = Plan(root, number, cfg, epochs)
    else:
        sessions.find_session(root, number)
        restore_epoch, prefix = sessions.pick_checkpoint(session, restore_epoch)
        later = [e for e in sessions.checkpoint_epochs(session) if e > restore_epoch]
        if later:
            raise UserError(
                f"Session {number} has checkpoints after epoch {restore_epoch} ({', '.join(map(str, later))}); "
                f"resuming from {restore_epoch} would replace them. Resume from the newest with "
                f"-r {max(later)}, or copy the session folder to a new number to branch from epoch {restore_epoch}.")
        if epochs <= restore_epoch:
            raise UserError(f"EPOCHS ({epochs}) must be greater than the restored epoch ({restore_epoch}): "
                            f"it is the last epoch to train, e.g. -r {restore_epoch} {number} {restore_epoch + 10}.")
        stored = sessions.read_stored_config(session)
        cfg = _resolve(config_lib.merge(config_path, overrides, base=stored), data_arg)
        if cfg["precision"] == "auto":  # chosen when the session started; its checkpoints hold that choice
            cfg["precision"] = stored["precision"]
        result = Plan(root, number, cfg, epochs, restore_epoch, prefix)
    if result.cfg["conditional"]:
        _check_classes(result, stored if result.restore_prefix and stored["conditional"] else None)
    if result.restore_prefix:
        changed = config_lib.architecture_changes(stored, result.cfg)
        if changed:
            raise UserError(f"Session {number} was trained with another architecture; a restore cannot change "
                            f"{'; '.join(changed)}. Drop those overrides, or start a new session.")
        result.config_changes = [f"{k}: {stored[k]} -> {v}" for k, v in result.cfg.items() if stored[k] != v]
    return result


def _resolve(cfg, data_arg):
    """--data (a dataset name or folder) joins the config before it is validated: a config that
    names dataset 'folder' gets its data_dir from it."""
    if data_arg is not None:
        cfg.update(resolve_data_arg(data_arg, cfg.get("dataset")))
    return config_lib.validate(cfg)


def _check_classes(result, stored):
    """A conditional session's classes come from its data; a restore must see the same ones, or
    its label embeddings would mean other classes."""
    found = class_names_of(result.cfg)
    if result.cfg["class_counts"]:
        check_class_counts(result.cfg["class_counts"], found)
    if stored is None:
        result.cfg["class_names"] = found
    elif stored.get("class_names") != found:
        raise UserError(f"Session {result.number} was trained on the classes {stored.get('class_names')}, but its data "
                        f"now has the classes {found}. Restore with the data it was trained on (--data), or "
                        "start a new session for these classes.")
