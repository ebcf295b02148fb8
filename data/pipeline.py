"""The tf.data pipeline of one epoch: a pure function of (images, seed, epoch).

The order and the flips of an epoch come from a NumPy generator seeded with (seed, epoch),
so a run resumed at epoch k sees exactly the batches an uninterrupted run would have seen,
with no iterator state to checkpoint.
"""
import numpy as np
import tensorflow as tf


def epoch_batches(images, batch_size, seed, epoch, flip):
    """Yield the uint8 batches of one epoch; the last partial batch is dropped."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(images))
    flips = rng.random(len(images)) < 0.5 if flip else None
    for start in range(0, len(order) - batch_size + 1, batch_size):
        index = order[start:start + batch_size]
        batch = images[index]  # fancy indexing copies: flipping below leaves `images` alone
        if flip:
            batch[flips[index]] = batch[flips[index], :, ::-1]
        yield batch


def to_float(batch):
    """uint8 [0, 255] -> float32 [-1, 1], the range of the generator's tanh."""
    return tf.cast(batch, tf.float32) / 127.5 - 1.0


def epoch_dataset(images, batch_size, seed, epoch, flip, pipeline=0, pipelines=1, replica_batch_size=None):
    """The epoch's batches as float32 tf.data. With several input pipelines (one per worker of a
    multi-worker run), pipeline i yields its i-th share of every global batch, cut into batches of
    replica_batch_size for its local replicas in turn: together the workers train on exactly
    the global batches a single process would."""
    replica_batch_size = replica_batch_size or batch_size
    share = batch_size // pipelines

    def shares():
        for batch in epoch_batches(images, batch_size, seed, epoch, flip):
            mine = batch[pipeline * share:(pipeline + 1) * share]
            yield from (mine[start:start + replica_batch_size] for start in range(0, share, replica_batch_size))

    spec = tf.TensorSpec((replica_batch_size,) + images.shape[1:], tf.uint8)
    dataset = tf.data.Dataset.from_generator(shares, output_signature=spec)
    return dataset.map(to_float, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(num_images, batch_size):
    return num_images // batch_size
