"""GAN losses: binary cross-entropy on logits, one value per example.

Per-example values (shape (B,)) let the training step average over the global batch, which is
what tf.distribute needs when a batch is split over replicas.
"""
import tensorflow as tf


def _bce(label, logits):
    logits = tf.reshape(logits, [-1])
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), label), logits=logits)


def discriminator_loss(real_logits, fake_logits, label_smoothing=0.9):
    """-log D(x) against the smoothed label plus -log(1 - D(G(z))).

    One-sided label smoothing (Salimans et al. 2016): only the real target moves below 1;
    smoothing the fake target would reward the generator for samples far from the data.
    """
    return _bce(label_smoothing, real_logits) + _bce(0.0, fake_logits)


def generator_loss(fake_logits):
    """Non-saturating loss -log D(G(z)): strong gradients while D still rejects the fakes."""
    return _bce(1.0, fake_logits)


def accuracy(real_logits, fake_logits):
    """Share of real examples scored real and of fake examples scored fake, per example."""
    real = tf.cast(tf.reshape(real_logits, [-1]) > 0, tf.float32)
    fake = tf.cast(tf.reshape(fake_logits, [-1]) < 0, tf.float32)
    return real, fake
