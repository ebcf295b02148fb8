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

# TensorFlow's Python warnings (e.g. about unrestored values after a failed restore) say nothing
# a user can act on; our own messages do.
tf.get_logger().setLevel("ERROR")


def _optimizer(learning_rate, cfg):
    adam = keras.optimizers.Adam(learning_rate, beta_1=cfg["beta1"], beta_2=cfg["beta2"])
    # float16 gradients underflow without a (dynamic) loss scale; bfloat16 has float32's range.
    return keras.optimizers.LossScaleOptimizer(adam) if cfg["precision"] == "mixed_float16" else adam


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
