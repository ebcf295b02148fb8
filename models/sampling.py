"""Drawing images from a generator for a seed: what generate_img.py writes and FID scores."""
import tensorflow as tf

from models.dcgan import noise


def sample_batches(generator, cfg, count, seed, batch_size):
    """`count` images in [-1, 1] as (B, H, W, C) batches, from tf.random.Generator.from_seed(seed)
    with one draw of noise() per batch."""
    rng = tf.random.Generator.from_seed(seed)
    for start in range(0, count, batch_size):
        yield generator(noise(rng, min(batch_size, count - start), cfg), training=False).numpy()
