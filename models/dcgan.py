"""DCGAN generator and discriminator (Radford et al. 2015) as Keras Sequential models.

Every up- or down-sampling layer is a 5x5 convolution with stride 2. Widths double toward the
small end: with g_filters=128 at 64x64 the generator is 4x4x1024 -> 8x8x512 -> 16x16x256 ->
32x32x128 -> 64x64x3, the paper's network. 28x28 images start from 7x7 instead of 4x4.
"""
import keras
from keras import layers

from models.shapes import layout


def _initializers(cfg):
    """A fresh seeded N(0, init_std) initializer per layer: one shared int-seeded initializer
    would give equally shaped layers identical weights."""
    layer = 0
    while True:
        layer += 1
        yield keras.initializers.RandomNormal(mean=0.0, stddev=cfg["init_std"], seed=cfg["seed"] * 1000 + layer)


def noise(rng, batch_size, cfg):
    """Latent vectors (B, noise_dim) from a tf.random.Generator, normal or uniform in [-1, 1]."""
    shape = (batch_size, cfg["noise_dim"])
    if cfg["noise"] == "uniform":
        return rng.uniform(shape, -1.0, 1.0)
    return rng.normal(shape)


def _compute_dtype(cfg):
    """The Keras dtype policy of the hidden layers (float32 weights, float16 or bfloat16 compute
    for the mixed ones); the output layers keep float32."""
    return cfg.get("precision") or ("mixed_float16" if cfg.get("mixed_precision") else "float32")


def _synchronized(cfg):
    """Batch statistics over the global batch when a strategy splits it over replicas: without
    it, 8 replicas at batch 128 normalise over 16 images each, a different model from one device."""
    return cfg.get("sync_batchnorm") is True


def generator_trunk(cfg, input_width, inits=None, name="generator"):
    """A vector (B, input_width) -> image (B, size, size, channels) in [-1, 1]: the DCGAN generator
    with the input width left open, so a conditional generator can feed it noise and a label code."""
    size, channels = cfg["image_size"], cfg["channels"]
    start, steps = layout(size)
    widths = [cfg["g_filters"] * 2 ** (steps - 1 - i) for i in range(steps)]  # e.g. [256, 128]
    inits = inits or _initializers(cfg)
    dtype = _compute_dtype(cfg)

    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=(input_width,)))
    model.add(layers.Dense(start * start * widths[0], use_bias=False, kernel_initializer=next(inits), dtype=dtype))
    model.add(layers.BatchNormalization(synchronized=_synchronized(cfg), dtype=dtype))
    model.add(layers.ReLU(dtype=dtype))
    model.add(layers.Reshape((start, start, widths[0]), dtype=dtype))
    assert model.output_shape == (None, start, start, widths[0])

    side = start
    for width in widths[1:]:
        side *= 2
        model.add(layers.Conv2DTranspose(width, 5, strides=2, padding="same", use_bias=False,
                                         kernel_initializer=next(inits), dtype=dtype))
        model.add(layers.BatchNormalization(synchronized=_synchronized(cfg), dtype=dtype))
        model.add(layers.ReLU(dtype=dtype))
        assert model.output_shape == (None, side, side, width)

    model.add(layers.Conv2DTranspose(channels, 5, strides=2, padding="same", activation="tanh",
                                     kernel_initializer=next(inits), dtype="float32"))
    assert model.output_shape == (None, size, size, channels)
    return model


def build_generator(cfg):
    """Noise (B, noise_dim) -> image (B, size, size, channels) in [-1, 1]."""
    return generator_trunk(cfg, cfg["noise_dim"])


def discriminator_trunk(cfg, inits=None, name="discriminator"):
    """Image (B, size, size, channels) -> flattened features (B, F): the DCGAN discriminator without
    its logit layer, which the caller adds (a plain Dense, or one beside a class projection).
    Pass the caller's `inits` so the head's initializer continues the same seeded sequence."""
    size, channels = cfg["image_size"], cfg["channels"]
    _, steps = layout(size)
    inits = inits or _initializers(cfg)
    dtype = _compute_dtype(cfg)

    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=(size, size, channels)))
    side = size
    for i in range(steps):
        side //= 2
        width = cfg["d_filters"] * 2 ** i
        model.add(layers.Conv2D(width, 5, strides=2, padding="same", kernel_initializer=next(inits), dtype=dtype))
        if cfg["d_batchnorm"] and i > 0:  # the paper leaves the input layer without batchnorm
            model.add(layers.BatchNormalization(synchronized=_synchronized(cfg), dtype=dtype))
        model.add(layers.LeakyReLU(negative_slope=0.2, dtype=dtype))
        if cfg["d_dropout"] > 0:
            model.add(layers.Dropout(cfg["d_dropout"], seed=cfg["seed"] + i, dtype=dtype))
        assert model.output_shape == (None, side, side, width)

    model.add(layers.Flatten(dtype=dtype))
    assert model.output_shape == (None, side * side * width)
    return model


def build_discriminator(cfg):
    """Image (B, size, size, channels) -> real/fake logit (B, 1)."""
    inits = _initializers(cfg)
    model = discriminator_trunk(cfg, inits)
    model.add(layers.Dense(1, kernel_initializer=next(inits), dtype="float32"))
    assert model.output_shape == (None, 1)
    return model
