"""The tf.data pipeline of one epoch: a pure function of (images, seed, epoch).

The order and the flips of an epoch come from a NumPy generator seeded with (seed, epoch),
so a run resumed at epoch k sees exactly the batches an uninterrupted run would have seen,
with no iterator state to checkpoint. Labels, when given, travel with their images: the same
order, and the same draws, so a labelled epoch visits the images in the unlabelled order.
A class-balanced epoch instead draws its N images with replacement so that every class is
equally frequent: a rare class's images come round several times, each with its own flip.
"""
import numpy as np
import tensorflow as tf

from data.labels import class_balanced_weights


def epoch_batches(images, batch_size, seed, epoch, flip, labels=None, class_balanced=False):
    """Yield the uint8 batches of one epoch, or (batch, labels (B,) int32) pairs when labels (N,)
    are given; the last partial batch is dropped. class_balanced (labels needed) draws the epoch's
    images so that each class is equally frequent instead of visiting each image once."""
    if labels is not None:
        labels = np.asarray(labels, np.int32)
        assert labels.shape == (len(images),), (labels.shape, len(images))
    assert labels is not None or not class_balanced
    rng = np.random.default_rng([seed, epoch])
    if class_balanced:
        order = rng.choice(len(images), len(images), p=class_balanced_weights(labels))
    else:
        order = rng.permutation(len(images))
    if flip:
        flips = rng.random(len(images)) < 0.5
        # A permutation flips each image by its own draw (the order every session so far was
        # trained with); draws with replacement flip each position, so a repeat may differ.
        flips = flips if class_balanced else flips[order]
    for start in range(0, len(order) - batch_size + 1, batch_size):
        index = order[start:start + batch_size]
        batch = images[index]  # fancy indexing copies: flipping below leaves `images` alone
        if flip:
            flipped = flips[start:start + batch_size]
            batch[flipped] = batch[flipped, :, ::-1]
        yield batch if labels is None else (batch, labels[index])


def to_float(batch):
    """uint8 [0, 255] -> float32 [-1, 1], the range of the generator's tanh."""
    return tf.cast(batch, tf.float32) / 127.5 - 1.0


def epoch_dataset(images, batch_size, seed, epoch, flip, pipeline=0, pipelines=1, replica_batch_size=None,
                  labels=None, class_balanced=False):
    """The epoch's batches as float32 tf.data, or (images float32, labels int32) pairs when labels
    are given. With several input pipelines (one per worker of a multi-worker run), pipeline i
    yields its i-th share of every global batch, cut into batches of replica_batch_size for its
    local replicas in turn: together the workers train on exactly the global batches a single
    process would."""
    replica_batch_size = replica_batch_size or batch_size
    share = batch_size // pipelines
    labelled = labels is not None

    def shares():
        for batch in epoch_batches(images, batch_size, seed, epoch, flip, labels, class_balanced):
            parts = batch if labelled else (batch,)
            mine = [part[pipeline * share:(pipeline + 1) * share] for part in parts]
            for start in range(0, share, replica_batch_size):
                piece = tuple(part[start:start + replica_batch_size] for part in mine)
                yield piece if labelled else piece[0]

    spec = tf.TensorSpec((replica_batch_size,) + images.shape[1:], tf.uint8)
    if labelled:
        spec = (spec, tf.TensorSpec((replica_batch_size,), tf.int32))
    dataset = tf.data.Dataset.from_generator(shares, output_signature=spec)
    convert = (lambda batch, batch_labels: (to_float(batch), batch_labels)) if labelled else to_float
    # No autotuning, and fixed sizes instead: training builds a new pipeline every epoch, and
    # deleting an autotuned iterator often waited, idle, for its tuning thread to wake from a
    # sleep that doubles from 10 ms up to a minute: epochs of 47 s ended at 82 s, and of 85 s at
    # 142 s. Converting a batch takes a millisecond; a buffer of two keeps it ahead.
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.map(convert).prefetch(2).with_options(options)


def steps_per_epoch(num_images, batch_size):
    return num_images // batch_size
