"""One training step: a simultaneous G and D update on one global batch, under any strategy.

Everything random in a step (the noise, the fake labels, the augmentation) is drawn once for the
global batch from the checkpointed noise generator, in cross-replica context, and each replica
takes its rows: one device and eight draw the same numbers for the same seed, and a resume
continues the stream exactly.
"""
import tensorflow as tf

import models
from models import augment
from training.progress import METRICS


def updates(cfg, step):
    """(update D, update G) at the 1-based step of an epoch: in each cycle of max(d_steps, g_steps)
    steps, D is updated on the first d_steps and G on the first g_steps (d_steps: 2 is WGAN's
    two critic updates per generator update). The cycle restarts with every epoch, so a resume,
    which always starts at an epoch, continues it exactly."""
    position = (step - 1) % max(cfg["d_steps"], cfg["g_steps"])
    return position < cfg["d_steps"], position < cfg["g_steps"]


def ema_decay(cfg, g_updates):
    """The average's decay after g_updates generator updates. With ema_warmup, min(ema_decay,
    (1 + n) / (10 + n)) as tf.train.ExponentialMovingAverage's num_updates does: early on the
    average follows the generator closely instead of lagging behind its random start."""
    if not cfg["ema_warmup"]:
        return tf.constant(cfg["ema_decay"], tf.float32)
    n = tf.cast(g_updates, tf.float32)
    return tf.minimum(tf.constant(cfg["ema_decay"], tf.float32), (1.0 + n) / (10.0 + n))


def make_train_step(state, cfg, strategy, global_batch_size, class_probabilities=None):
    """train_step(batch, stop_flag, step) -> METRICS and, last, the sum of the stop flags passed in
    by the workers (above 0 when any worker was asked to stop). batch: images, or (images, labels)
    for a conditional session, whose fake labels follow class_probabilities; step: the 1-based step
    of the epoch, which picks the networks updated (updates())."""
    generator, discriminator = state.generator, state.discriminator
    conditional = state.class_names is not None
    policy = models.parse_policy(cfg["augment"])
    adaptive = cfg["augment_p"] == "auto"
    share = global_batch_size // strategy.num_replicas_in_sync

    def mine(tensor):
        """This replica's rows of a global-batch tensor (the data is split over replicas alike)."""
        start = tf.distribute.get_replica_context().replica_id_in_sync_group * share
        return tensor[start:start + share]

    def judged(images, labels):
        return [images, labels] if conditional else images

    def replica_step(batch, drawn, stop_flag, update_d, update_g):
        real, real_labels = batch if conditional else (batch, None)
        fake_labels = mine(drawn["labels"]) if conditional else None
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = generator(state.generator_inputs(mine(drawn["noise"]), fake_labels), training=True)
            # Both D inputs are augmented alike, in the D and the G update: D cannot memorise the
            # real images, and G's gradient flows back through the (differentiable) transforms.
            real_seen = augment.apply(real, policy, state.augment_p, [mine(u) for u in drawn["real"]])
            fake_seen = augment.apply(fake, policy, state.augment_p, [mine(u) for u in drawn["fake"]])
            real_logits = discriminator(judged(real_seen, real_labels), training=True)
            fake_logits = discriminator(judged(fake_seen, fake_labels), training=True)
            # Averaged over the global batch: summing the replicas then gives the batch mean.
            g_loss = tf.nn.compute_average_loss(models.generator_loss(fake_logits),
                                                global_batch_size=global_batch_size)
            d_loss = tf.nn.compute_average_loss(
                models.discriminator_loss(real_logits, fake_logits, cfg["label_smoothing"]),
                global_batch_size=global_batch_size)
            # Inside the tapes: identity unless the optimizer is a LossScaleOptimizer (float16),
            # whose apply_gradients unscales again.
            g_scaled, d_scaled = state.g_optimizer.scale_loss(g_loss), state.d_optimizer.scale_loss(d_loss)
        if update_g:
            g_grads = g_tape.gradient(g_scaled, generator.trainable_variables)
            state.g_optimizer.apply_gradients(zip(g_grads, generator.trainable_variables))
        if update_d:
            d_grads = d_tape.gradient(d_scaled, discriminator.trainable_variables)
            state.d_optimizer.apply_gradients(zip(d_grads, discriminator.trainable_variables))
        acc_real, acc_fake = models.accuracy(real_logits, fake_logits)
        signs = tf.sign(tf.cast(tf.reshape(real_logits, [-1]), tf.float32))
        return tf.stack([g_loss, d_loss, tf.reduce_sum(acc_real) / global_batch_size,
                         tf.reduce_sum(acc_fake) / global_batch_size, tf.reduce_sum(signs) / global_batch_size,
                         stop_flag])

    def adjust_p(r_t):
        """ADA: every ADA_INTERVAL steps p moves toward the value that keeps r_t at the target."""
        state.ada_signs.assign_add(r_t)
        state.ada_steps.assign_add(1)

        def move_p():
            mean = state.ada_signs / tf.cast(state.ada_steps, tf.float32)
            state.augment_p.assign(augment.ada_adjust(state.augment_p, mean, global_batch_size,
                                                      augment.ADA_INTERVAL, cfg["ada_target"]))
            state.ada_signs.assign(0.0)
            state.ada_steps.assign(0)

        tf.cond(state.ada_steps >= augment.ADA_INTERVAL, move_p, lambda: None)

    def step_function(update_d, update_g):
        # No AutoGraph: the step has one data-dependent branch, written as tf.cond, and converting
        # its Python took seconds of every run's start.
        @tf.function(jit_compile=cfg["jit_compile"], autograph=False)
        def step(batch, stop_flag):
            drawn = {"noise": models.noise(state.noise_rng, global_batch_size, cfg),
                     "real": augment.draw(state.noise_rng, policy, global_batch_size),
                     "fake": augment.draw(state.noise_rng, policy, global_batch_size)}
            if conditional:
                drawn["labels"] = models.sample_labels(state.noise_rng, global_batch_size, class_probabilities)
            per_replica = strategy.run(replica_step, args=(batch, drawn, stop_flag, update_d, update_g))
            if update_g:  # cross-replica: the replicas' weights are equal again here
                state.update_ema(ema_decay(cfg, state.g_optimizer.iterations))
            totals = strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
            if adaptive and policy:
                adjust_p(totals[METRICS.index("r_t")])
            return totals
        return step

    # One traced function per pattern of updates that the schedule uses (one by default).
    functions = {}

    def train_step(batch, stop_flag, step):
        which = updates(cfg, step)
        if which not in functions:
            functions[which] = step_function(*which)
        return functions[which](batch, stop_flag)

    return train_step
