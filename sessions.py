"""Training sessions on disk and the state their checkpoints hold.

Session N lives in <checkpoint root>/training_N/: config.yaml (the resolved config), the
tf.train checkpoints ckpt-E (state at the end of epoch E) listed by the `checkpoint` state file,
images/, metrics.csv, losses.png, progress.gif and logs/. Every reader of a session
(training with -r, generate_img.py, compute_fid.py) rebuilds the networks from config.yaml and
restores with an assertion that every value matched.
"""
import re
import shutil
from pathlib import Path

import keras
import tensorflow as tf
import yaml

import config as config_lib
import imaging
import models
from errors import UserError, warn

# TensorFlow's Python warnings (e.g. about unrestored values after a failed restore) say nothing
# a user can act on; our own messages do.
tf.get_logger().setLevel("ERROR")

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
        # Keys added to the tool after the session was created take their defaults, which keep
        # the behaviour the session was trained with; unknown keys are still refused.
        defaults = config_lib.read_yaml(config_lib.DEFAULT_CONFIG)
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


def _read_state(session):
    """The epochs the state file lists, or None when it is missing or unreadable."""
    if not (Path(session) / STATE_FILE).exists():
        return None
    try:
        state = tf.train.get_checkpoint_state(str(session))
    except Exception:  # an empty file raises ValueError; other damage comes in several types
        return None
    if state is None:
        return None
    return [int(m.group(1)) for p in state.all_model_checkpoint_paths if (m := _CHECKPOINT.match(Path(p).name))]


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


def _optimizer(learning_rate, cfg):
    adam = keras.optimizers.Adam(learning_rate, beta_1=cfg["beta1"])
    # float16 gradients underflow without a (dynamic) loss scale.
    return keras.optimizers.LossScaleOptimizer(adam) if cfg["mixed_precision"] else adam


class GanState:
    """Both networks, both optimizers, the epoch counter, the noise generator, the dropout
    generators and the fixed sample noise: everything needed to continue training exactly."""

    def __init__(self, cfg, strategy=None):
        self.cfg = cfg
        strategy = strategy or tf.distribute.get_strategy()
        with strategy.scope():
            self.generator = models.build_generator(cfg)
            # The exponential moving average of the generator's weights: what every sample grid,
            # generated image and FID comes from, since single Adam steps at beta1 0.5 make the
            # raw generator's output jitter from step to step (Yazici et al. 2019).
            self.ema_generator = models.build_generator(cfg)
            self.ema_generator.set_weights(self.generator.get_weights())
            self.discriminator = models.build_discriminator(cfg)
            self.g_optimizer = _optimizer(cfg["g_lr"], cfg)
            self.d_optimizer = _optimizer(cfg["d_lr"], cfg)
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
        self._parts = dict(generator=self.generator, discriminator=self.discriminator,
                           g_optimizer=self.g_optimizer, d_optimizer=self.d_optimizer, epoch=self.epoch,
                           noise_rng=self.noise_rng, sample_noise=self.sample_noise, dropout_rng=seed_states)
        self.checkpoint = tf.train.Checkpoint(**self._parts, ema_generator=self.ema_generator)

    def update_ema(self, decay):
        """average <- decay * average + (1 - decay) * weights; the batchnorm statistics are copied."""
        for average, live in zip(self.ema_generator.trainable_variables, self.generator.trainable_variables):
            average.assign(decay * average + (1.0 - decay) * live)
        for average, live in zip(self.ema_generator.non_trainable_variables, self.generator.non_trainable_variables):
            average.assign(live)

    def restore(self, prefix):
        """Load a checkpoint; every value in it and every variable here must match."""
        try:
            # Sessions saved before the average existed have none: it starts from the generator.
            has_ema = any(name.startswith("ema_generator/")
                          for name in tf.train.load_checkpoint(str(prefix)).get_variable_to_shape_map())
            (self.checkpoint if has_ema else tf.train.Checkpoint(**self._parts)).restore(prefix).assert_consumed()
            if not has_ema:
                self.update_ema(0.0)
        except (AssertionError, ValueError) as e:
            raise UserError(f"Checkpoint {prefix} does not match the network built from the session's "
                            f"config.yaml ({str(e).splitlines()[0][:200]}). Was config.yaml edited? "
                            "Put back the config the session was trained with.") from None
        except (tf.errors.OpError, OSError) as e:
            reason = str(getattr(e, "message", e)).split("}} ")[-1].split(" [Op:")[0]
            others = [epoch for epoch, p in checkpoint_epochs(Path(prefix).parent, report_fallback=False).items()
                      if p != str(prefix)]
            raise UserError(f"Checkpoint {prefix} is damaged and cannot be loaded: {reason} (files "
                            f"{Path(prefix).name}.index and {Path(prefix).name}.data-*). Nothing was changed. "
                            f"Use another checkpoint; epochs with one: {', '.join(map(str, others)) or 'none'}.") from None
        # The learning rate is a setting, not state: the current config wins over the checkpoint.
        self.g_optimizer.learning_rate.assign(self.cfg["g_lr"])
        self.d_optimizer.learning_rate.assign(self.cfg["d_lr"])

    def variables(self):
        """Every variable the checkpoint holds."""
        return [*self.generator.variables, *self.ema_generator.variables, *self.discriminator.variables,
                *self.g_optimizer.variables, *self.d_optimizer.variables, self.epoch, self.noise_rng.state,
                self.sample_noise]

    def snapshot(self):
        """A copy of the whole state in host memory, to go back to with load_snapshot."""
        return [v.numpy() for v in self.variables()]

    def load_snapshot(self, values):
        for variable, value in zip(self.variables(), values, strict=True):
            variable.assign(value)

    def samples(self):
        """The averaged generator's images for the fixed sample noise, in [-1, 1]."""
        return self.ema_generator(self.sample_noise, training=False).numpy()


def load_session(root, number, epoch=None):
    """(state, epoch) of a trained session, rebuilt from its config and restored."""
    session = find_session(root, number)
    cfg = read_stored_config(session)
    epoch, prefix = pick_checkpoint(session, epoch)
    state = GanState(cfg)
    state.restore(prefix)
    return state, epoch
