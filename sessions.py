"""Training sessions on disk and the state their checkpoints hold.

Session N lives in <checkpoint root>/training_N/: config.yaml (the resolved config), the
tf.train checkpoints ckpt-E (state at the end of epoch E) listed by the `checkpoint` state file,
images/, metrics.csv, losses.png, progress.gif and logs/. Every reader of a session
(training with -r, generate_img.py, compute_fid.py) rebuilds the networks from config.yaml and
restores with an assertion that every value matched.
"""
import re
from pathlib import Path

import keras
import tensorflow as tf
import yaml

import config as config_lib
import models
from errors import UserError

CHECKPOINT_NAME = "ckpt"
STATE_FILE = "checkpoint"
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
        return config_lib.validate(stored if isinstance(stored, dict) else {})
    except UserError as e:
        raise UserError(f"{path} is not a valid session config: {e}") from None


def checkpoint_epochs(session):
    """{epoch: checkpoint prefix} of the checkpoints the state file lists (only complete saves)."""
    session = Path(session)
    state_path = session / STATE_FILE
    if not state_path.exists():
        return {}
    try:
        state = tf.train.get_checkpoint_state(str(session))
    except Exception as e:  # text-format parse errors come in several types
        raise UserError(f"The checkpoint state file {state_path} is damaged ({type(e).__name__}). "
                        "Restore it from a backup; the ckpt-* files beside it are untouched.") from None
    if state is None:
        raise UserError(f"The checkpoint state file {state_path} is empty or damaged. "
                        "Restore it from a backup; the ckpt-* files beside it are untouched.")
    epochs = {}
    for prefix in state.all_model_checkpoint_paths:
        match = _CHECKPOINT.match(Path(prefix).name)
        if match:
            epochs[int(match.group(1))] = str(session / Path(prefix).name)
    return dict(sorted(epochs.items()))


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


class GanState:
    """Both networks, both optimizers, the epoch counter, the noise generator, the dropout
    generators and the fixed sample noise: everything needed to continue training exactly."""

    def __init__(self, cfg, strategy=None):
        self.cfg = cfg
        strategy = strategy or tf.distribute.get_strategy()
        with strategy.scope():
            self.generator = models.build_generator(cfg)
            self.discriminator = models.build_discriminator(cfg)
            self.g_optimizer = keras.optimizers.Adam(cfg["g_lr"], beta_1=cfg["beta1"])
            self.d_optimizer = keras.optimizers.Adam(cfg["d_lr"], beta_1=cfg["beta1"])
            # Slots exist before a restore, so assert_consumed can check them too.
            self.g_optimizer.build(self.generator.trainable_variables)
            self.d_optimizer.build(self.discriminator.trainable_variables)
            self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
            self.noise_rng = tf.random.Generator.from_seed(cfg["seed"])
            sample_rng = tf.random.Generator.from_seed(cfg["seed"] + 1)
            self.sample_noise = tf.Variable(models.noise(sample_rng, cfg["num_examples"], cfg),
                                            trainable=False, name="sample_noise")
        # Keras keeps dropout RNG state in SeedGenerator variables that tf.train does not follow.
        seed_states = [v for v in self.discriminator.non_trainable_variables if "seed_generator" in v.path]
        self.checkpoint = tf.train.Checkpoint(
            generator=self.generator, discriminator=self.discriminator,
            g_optimizer=self.g_optimizer, d_optimizer=self.d_optimizer, epoch=self.epoch,
            noise_rng=self.noise_rng, sample_noise=self.sample_noise, dropout_rng=seed_states)

    def restore(self, prefix):
        """Load a checkpoint; every value in it and every variable here must match."""
        try:
            self.checkpoint.restore(prefix).assert_consumed()
        except (AssertionError, ValueError) as e:
            raise UserError(f"Checkpoint {prefix} does not match the network built from the session's "
                            f"config.yaml ({str(e).splitlines()[0][:200]}). Was config.yaml edited? "
                            "Put back the config the session was trained with.") from None
        except (tf.errors.OpError, OSError) as e:
            raise UserError(f"Checkpoint {prefix} cannot be read: its files are damaged or missing "
                            f"({type(e).__name__}: {e.message if hasattr(e, 'message') else e}). "
                            "Resume from an older checkpoint with -r EPOCH.") from None
        # The learning rate is a setting, not state: the current config wins over the checkpoint.
        self.g_optimizer.learning_rate.assign(self.cfg["g_lr"])
        self.d_optimizer.learning_rate.assign(self.cfg["d_lr"])

    def samples(self):
        """The generator's images for the fixed sample noise, in [-1, 1]."""
        return self.generator(self.sample_noise, training=False).numpy()


def load_session(root, number, epoch=None):
    """(state, epoch) of a trained session, rebuilt from its config and restored."""
    session = find_session(root, number)
    cfg = read_stored_config(session)
    epoch, prefix = pick_checkpoint(session, epoch)
    state = GanState(cfg)
    state.restore(prefix)
    return state, epoch
