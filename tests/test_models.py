"""Networks: shapes and ranges for every supported size; losses against hand-computed values."""
import math

import numpy as np
import pytest
import tensorflow as tf

from training import config
import models

SMALL = dict(noise_dim=16, g_filters=4, d_filters=4, d_batchnorm=True, d_dropout=0.3, init_std=0.02, seed=3,
             noise="normal")


@pytest.mark.parametrize("size", [28, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_generator_and_discriminator_shapes_and_range(size, channels):
    cfg = dict(SMALL, image_size=size, channels=channels)
    generator, discriminator = models.build_generator(cfg), models.build_discriminator(cfg)
    noise = models.noise(tf.random.Generator.from_seed(0), 3, cfg)
    images = generator(noise * 50.0, training=True).numpy()  # large inputs push tanh to its limits
    assert images.shape == (3, size, size, channels)
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert images.max() - images.min() > 0.5  # not a constant image
    assert discriminator(images, training=False).shape == (3, 1)


def test_paper_architecture_at_64():
    cfg = dict(SMALL, image_size=64, channels=3, g_filters=128, d_filters=64)
    generator = models.build_generator(cfg)
    widths = [layer.output.shape[-1] for layer in generator.layers if "conv2d_transpose" in layer.name]
    assert generator.layers[3].output.shape[1:] == (4, 4, 1024)
    assert widths == [512, 256, 128, 3]
    kernels = [layer.kernel.shape[:2] for layer in generator.layers if "conv2d_transpose" in layer.name]
    assert all(k == (5, 5) for k in kernels)


def test_unsupported_size_is_refused_with_the_supported_ones():
    with pytest.raises(ValueError, match="28, 32, 64, 128"):
        models.layout(48)
    with pytest.raises(config.UserError, match="image_size"):
        config.load_config(overrides={"image_size": 48})


def _softplus(x):  # log(1 + e^x), written independently of TensorFlow
    return math.log1p(math.exp(x))


def test_discriminator_loss_with_one_sided_label_smoothing():
    real, fake = tf.constant([[2.0], [0.0]]), tf.constant([[-1.0], [3.0]])
    loss = models.discriminator_loss(real, fake, label_smoothing=0.9).numpy()
    # BCE(y, x) = y * softplus(-x) + (1 - y) * softplus(x); real target 0.9, fake target 0.
    expected = [0.9 * _softplus(-2.0) + 0.1 * _softplus(2.0) + _softplus(-1.0),
                0.9 * _softplus(0.0) + 0.1 * _softplus(0.0) + _softplus(3.0)]
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    assert loss.shape == (2,)


def test_label_smoothing_one_is_plain_cross_entropy():
    loss = models.discriminator_loss(tf.constant([[2.0]]), tf.constant([[-1.0]]), label_smoothing=1.0).numpy()
    np.testing.assert_allclose(loss, [_softplus(-2.0) + _softplus(-1.0)], rtol=1e-6)


def test_generator_loss_is_non_saturating():
    loss = models.generator_loss(tf.constant([[-1.0], [4.0]])).numpy()
    np.testing.assert_allclose(loss, [_softplus(1.0), _softplus(-4.0)], rtol=1e-6)


def test_accuracy_counts_real_above_zero_and_fake_below():
    real, fake = models.accuracy(tf.constant([[1.0], [-1.0]]), tf.constant([[-2.0], [0.5]]))
    assert real.numpy().tolist() == [1.0, 0.0] and fake.numpy().tolist() == [1.0, 0.0]


def test_uniform_noise_stays_in_range():
    cfg = dict(SMALL, noise="uniform")
    z = models.noise(tf.random.Generator.from_seed(0), 500, cfg).numpy()
    assert z.shape == (500, 16) and z.min() >= -1 and z.max() <= 1 and z.std() > 0.5
