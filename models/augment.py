"""Differentiable augmentation of every batch the discriminator sees, and ADA's adaptive probability.

DiffAugment (Zhao et al. 2020) applies the same random transforms to real and fake images, in both
the D and the G update, so D cannot memorise a small data set and G still gets gradients through
them. ADA (Karras et al. 2020) applies each transform with a probability p that a feedback loop
raises while D overfits: at p = 0 nothing changes, at p = 1 this is plain DiffAugment.

Images are (B, H, W, C) in [-1, 1], C = 1 or 3, H and W known when traced. All randomness comes
from the tf.random.Generator passed in, so a run restored with its checkpointed generator draws
the same augmentations. Only gathers, compares and selects: the ops compile under XLA.
"""
import tensorflow as tf

from models.policy import TRANSFORMS, parse_policy

# Translation pads with 0, cutout fills with 0: the reference's values in the reference's [-1, 1]
# images, and the middle of the range, so the pad is as far from a black background as from a
# white one. D cannot tell real from fake by it: both get the same augmentations.
FILL = 0.0

# ADA's constants (StyleGAN2-ADA training_loop.py: ada_target, ada_interval, ada_kimg).
ADA_TARGET = 0.6  # the share of reals D may score as real (E[sign(logit)]) before p rises
ADA_INTERVAL = 4  # steps over which the sign of D's real logits is averaged between adjustments
# The paper lets p go from 0 to 1 in 500k images, but our runs see only a few thousand steps
# (3000 steps of batch 64 = 192k images), in which p could never pass 0.4 at that speed.
# 100k images reaches any p within the first third of such a run, and one adjustment
# (64 * 4 / 100k = 0.0026) is still small enough that p does not oscillate.
ADA_SPEED_IMAGES = 100_000


def draw(rng, policy, batch):
    """The random numbers augment() uses for `batch` images, drawn from rng: per transform of the
    policy, in order, one rng.uniform([batch, 4]) for color and one rng.uniform([batch, 3]) for
    translation and cutout. Column 0 decides whether the image is transformed (u < p), the rest
    are that transform's parameters. The draws do not depend on p, so how far rng advances
    depends only on the policy and the batch size. Drawing them apart from apply() lets a
    multi-replica step draw for the global batch and give each replica its rows, so a seed
    means the same on one device and on eight."""
    return tuple(rng.uniform([batch, 1 + _TRANSFORMS[name][1]]) for name in _names(policy))


def apply(images, policy, p, draws):
    """Each transform of `policy` applied to each image independently with probability p, using
    `draws` from draw() for these images.

    Computed in float32 and cast back, so float16 images come back float16; selecting the
    untransformed image is exact, which makes p = 0 the identity bit for bit. Not clipped: the
    color transform may leave [-1, 1], as in DiffAugment, where clipping would stop G's gradient
    at every pixel pushed past the bound.
    """
    names = _names(policy)
    if not names:
        return images
    x = tf.cast(images, tf.float32)
    p = tf.cast(p, tf.float32)
    for name, u in zip(names, draws, strict=True):
        chosen = tf.reshape(u[:, 0] < p, [-1, 1, 1, 1])
        x = tf.where(chosen, _TRANSFORMS[name][0](x, u[:, 1:]), x)
    return tf.cast(x, images.dtype)


def augment(images, policy, p, rng):
    """apply() with fresh draws from rng: policy is a tuple from parse_policy (or its text), p a
    scalar (tensor or tf.Variable) in [0, 1]."""
    return apply(images, policy, p, draw(rng, policy, tf.shape(images)[0]))


def _names(policy):
    names = parse_policy(policy) if isinstance(policy, str) else tuple(policy)
    unknown = [name for name in names if name not in TRANSFORMS]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown[0]!r}; use any of {', '.join(TRANSFORMS)}")
    return names


def _per_image(values):
    return tf.reshape(values, [-1, 1, 1, 1])


def _color(x, u):
    """Brightness + [-0.5, 0.5), saturation x [0, 2), contrast x [0.5, 1.5), in that order."""
    x = x + _per_image(u[:, 0] - 0.5)
    mean = tf.reduce_mean(x, axis=3, keepdims=True)  # the pixel's gray: one channel stays unchanged
    x = (x - mean) * _per_image(u[:, 1] * 2.0) + mean
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * _per_image(u[:, 2] + 0.5) + mean


def _integer(u, high):
    """Uniform integers in [0, high) from u in [0, 1): (B,) int32."""
    return tf.minimum(tf.cast(tf.floor(u * high), tf.int32), high - 1)


def _translation(x, u):
    """out[i, j] = in[i + dy, j + dx], FILL where that falls outside; dy, dx in [-size/8, size/8]."""
    height, width = x.shape[1], x.shape[2]
    dy = _integer(u[:, 0], 2 * (height // 8) + 1) - height // 8
    dx = _integer(u[:, 1], 2 * (width // 8) + 1) - width // 8
    # One border of FILL around the image; every source index outside it lands on the border.
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=FILL)
    rows = tf.clip_by_value(tf.range(height)[None, :] + dy[:, None] + 1, 0, height + 1)  # (B, H)
    cols = tf.clip_by_value(tf.range(width)[None, :] + dx[:, None] + 1, 0, width + 1)  # (B, W)
    x = tf.gather(padded, rows, axis=1, batch_dims=1)  # (B, H, W + 2, C)
    return tf.gather(x, cols, axis=2, batch_dims=1)


def _cutout(x, u):
    """A (H/2, W/2) square set to FILL. Its centre is uniform over the image up to and including
    the far edge (as in the reference), so it may hang up to half outside."""
    height, width = x.shape[1], x.shape[2]

    def inside(u, size):  # (B, size) bool: the rows (or columns) the square covers
        side = size // 2
        start = _integer(u, size + 1 - side % 2) - side // 2
        index = tf.range(size)[None, :]
        return (index >= start[:, None]) & (index < start[:, None] + side)

    square = inside(u[:, 0], height)[:, :, None, None] & inside(u[:, 1], width)[:, None, :, None]
    return tf.where(square, tf.constant(FILL, x.dtype), x)


_TRANSFORMS = {"color": (_color, 3), "translation": (_translation, 2), "cutout": (_cutout, 2)}


def ada_adjust(p, r_t, batch_size, interval, target=ADA_TARGET, speed_images=ADA_SPEED_IMAGES):
    """ADA's update of p after `interval` steps: p + sign(r_t - target) * batch_size * interval /
    speed_images, clipped to [0, 1] (StyleGAN2-ADA clips only at 0; its pipeline treats p > 1
    as 1, and the clip keeps p from drifting above 1 where it would take long to come back).

    r_t: mean of sign(D's logits on the augmented reals) over the interval's steps; 1 means D
    is sure of every real (overfitting), 0 that it cannot tell. batch_size: the global batch,
    summed over replicas. speed_images: images for p to move by 1. Exactly at target, p stays.
    """
    p = tf.convert_to_tensor(p, tf.float32)
    step = tf.cast(batch_size, tf.float32) * interval / speed_images
    return tf.clip_by_value(p + tf.sign(tf.cast(r_t, tf.float32) - target) * step, 0.0, 1.0)
