"""Drawing images from a generator for a seed: what generate_img.py writes and FID scores."""
import tensorflow as tf

from models.dcgan import noise


def sample_batches(generator, cfg, count, seed, batch_size, labels=None):
    """`count` images in [-1, 1] as (B, H, W, C) batches, from tf.random.Generator.from_seed(seed)
    with one draw of noise() per batch. A conditional generator takes `labels`, (count,) class
    indices, batch by batch beside the noise: the noise of image i does not depend on the labels."""
    rng = tf.random.Generator.from_seed(seed)
    for start in range(0, count, batch_size):
        z = noise(rng, min(batch_size, count - start), cfg)
        inputs = z if labels is None else [z, tf.constant(labels[start:start + len(z)], tf.int32)]
        yield generator(inputs, training=False).numpy()
