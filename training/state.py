"""The state a session's checkpoint holds, and loading a trained session.

GanState is everything needed to continue training exactly: both networks, the averaged
generator, both optimizers, the epoch counter, the noise generator, the dropout generators and
the fixed sample noise.
"""
from pathlib import Path

import keras
import tensorflow as tf

import models
from training.sessions import checkpoint_epochs, find_session, pick_checkpoint, read_stored_config
from utils.errors import UserError
from utils.imaging import CLASS_GRID_COLUMNS

# TensorFlow's Python warnings (e.g. about unrestored values after a failed restore) say nothing
# a user can act on; our own messages do.
tf.get_logger().setLevel("ERROR")


def _optimizer(learning_rate, cfg):
    adam = keras.optimizers.Adam(learning_rate, beta_1=cfg["beta1"], beta_2=cfg["beta2"])
    # float16 gradients underflow without a (dynamic) loss scale; bfloat16 has float32's range.
    return keras.optimizers.LossScaleOptimizer(adam) if cfg["precision"] == "mixed_float16" else adam


# A conditional session's epoch grid: a row per class (the first GRID_CLASSES of them), each row
# from the same CLASS_GRID_COLUMNS noise vectors, so a column shows one latent across the classes.
GRID_CLASSES = 10


class GanState:
    """Both networks, both optimizers, the epoch counter, the noise generator, the dropout
    generators, the fixed sample noise (and labels), and the augmentation probability with ADA's
    running signal: everything needed to continue training exactly."""

    def __init__(self, cfg, strategy=None):
        self.cfg = cfg
        self.class_names = list(cfg["class_names"]) if cfg["conditional"] else None
        strategy = strategy or tf.distribute.get_strategy()
        with strategy.scope():
            self.generator = self._generator()
            # The exponential moving average of the generator's weights: what every sample grid,
            # generated image and FID comes from, since single Adam steps at beta1 0.5 make the
            # raw generator's output jitter from step to step (Yazici et al. 2019).
            self.ema_generator = self._generator()
            self.ema_generator.set_weights(self.generator.get_weights())
            self.discriminator = (models.build_projection_discriminator(cfg, len(self.class_names))
                                  if self.class_names else models.build_discriminator(cfg))
            self.g_optimizer = _optimizer(cfg["g_lr"], cfg)
            self.d_optimizer = _optimizer(cfg["d_lr"], cfg)
            # Slots exist before a restore, so assert_consumed can check them too.
            self.g_optimizer.build(self.generator.trainable_variables)
            self.d_optimizer.build(self.discriminator.trainable_variables)
            self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
            self.noise_rng = tf.random.Generator.from_seed(cfg["seed"])
            sample_rng = tf.random.Generator.from_seed(cfg["seed"] + 1)
            if self.class_names:
                rows = min(GRID_CLASSES, len(self.class_names))
                columns = models.noise(sample_rng, CLASS_GRID_COLUMNS, cfg)
                self.sample_noise = tf.Variable(tf.tile(columns, [rows, 1]), trainable=False, name="sample_noise")
                self.sample_labels = tf.Variable(tf.repeat(tf.range(rows, dtype=tf.int32), CLASS_GRID_COLUMNS),
                                                 trainable=False, name="sample_labels")
            else:
                self.sample_noise = tf.Variable(models.noise(sample_rng, cfg["num_examples"], cfg),
                                                trainable=False, name="sample_noise")
                self.sample_labels = None
            # auto starts without augmentation and lets ADA raise p as the discriminator overfits.
            start_p = 0.0 if cfg["augment_p"] == "auto" else cfg["augment_p"]
            self.augment_p = tf.Variable(start_p, dtype=tf.float32, trainable=False, name="augment_p")
            # ADA's signal summed over the steps since p last moved, and their count.
            self.ada_signs = tf.Variable(0.0, dtype=tf.float32, trainable=False, name="ada_signs")
            self.ada_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="ada_steps")
        # Keras keeps dropout RNG state in SeedGenerator variables that tf.train does not follow.
        seed_states = [v for v in self.discriminator.non_trainable_variables if "seed_generator" in v.path]
        self._parts = dict(generator=self.generator, discriminator=self.discriminator,
                           g_optimizer=self.g_optimizer, d_optimizer=self.d_optimizer, epoch=self.epoch,
                           noise_rng=self.noise_rng, sample_noise=self.sample_noise, dropout_rng=seed_states)
        if self.class_names:
            self._parts["sample_labels"] = self.sample_labels
        # Parts that checkpoints of earlier versions, or of sessions trained without augmentation,
        # do not have: a restore without them starts them afresh.
        self._optional = dict(ema_generator=self.ema_generator,
                              augment=tf.train.Checkpoint(p=self.augment_p, signs=self.ada_signs, steps=self.ada_steps))
        saved = dict(self._optional) if cfg["augment"] != "none" else dict(ema_generator=self.ema_generator)
        self.checkpoint = tf.train.Checkpoint(**self._parts, **saved)

    def _generator(self):
        if self.class_names:
            return models.build_conditional_generator(self.cfg, len(self.class_names))
        return models.build_generator(self.cfg)

    def update_ema(self, decay):
        """average <- decay * average + (1 - decay) * weights; the batchnorm statistics are copied."""
        for average, live in zip(self.ema_generator.trainable_variables, self.generator.trainable_variables):
            average.assign(decay * average + (1.0 - decay) * live)
        for average, live in zip(self.ema_generator.non_trainable_variables, self.generator.non_trainable_variables):
            average.assign(live)

    def restore(self, prefix):
        """Load a checkpoint; every value in it and every variable here must match."""
        try:
            present = {name.split("/")[0] for name in tf.train.load_checkpoint(str(prefix)).get_variable_to_shape_map()}
            found = {name: part for name, part in self._optional.items() if name in present}
            restorer = tf.train.Checkpoint(**self._parts, **found)
            restorer.restore(prefix).assert_consumed()
            # The save counter lives in the checkpoint object that saves; carry it over from the one that read.
            self.checkpoint.save_counter.assign(restorer.save_counter)
            if "ema_generator" not in found:  # sessions saved before the average existed
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
        if self.cfg["augment_p"] != "auto":  # a fixed p is a setting too; only ADA's p is state
            self.augment_p.assign(self.cfg["augment_p"])

    def variables(self):
        """Every variable the checkpoint holds."""
        extra = [self.sample_labels] if self.class_names else []
        return [*self.generator.variables, *self.ema_generator.variables, *self.discriminator.variables,
                *self.g_optimizer.variables, *self.d_optimizer.variables, self.epoch, self.noise_rng.state,
                self.sample_noise, *extra, self.augment_p, self.ada_signs, self.ada_steps]

    def snapshot(self):
        """A copy of the whole state in host memory, to go back to with load_snapshot."""
        return [v.numpy() for v in self.variables()]

    def load_snapshot(self, values):
        for variable, value in zip(self.variables(), values, strict=True):
            variable.assign(value)

    def generator_inputs(self, noise, labels=None):
        """What the generators take: the noise, and for a conditional session the labels beside it."""
        return [noise, labels] if self.class_names else noise

    def samples(self):
        """The averaged generator's images for the fixed sample noise (and labels), in [-1, 1]."""
        return self.ema_generator(self.generator_inputs(self.sample_noise, self.sample_labels), training=False).numpy()

    def sample_rows(self):
        """The class name of each row of the epoch grid, or None when it has no rows by class."""
        return self.class_names[:GRID_CLASSES] if self.class_names else None


def load_session(root, number, epoch=None):
    """(state, epoch) of a trained session, rebuilt from its config and restored."""
    session = find_session(root, number)
    cfg = read_stored_config(session)
    epoch, prefix = pick_checkpoint(session, epoch)
    state = GanState(cfg)
    state.restore(prefix)
    return state, epoch
