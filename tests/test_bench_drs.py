"""bench/drs.py: discriminator rejection sampling keeps what the discriminator rates higher, in the numbers asked."""
import sys
from types import SimpleNamespace

import numpy as np
import tensorflow as tf

from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
import drs  # noqa: E402

CFG = {"noise_dim": 4, "noise": "normal", "batch_size": 16}


def stub_state(conditional):
    """A 'generator' whose image is its first latent everywhere, and a 'discriminator' whose logit
    is 4 x the image's mean (+ 1 for class 1): the brighter the image, the more real it is rated."""
    def generator(inputs, training):
        z = inputs[0] if conditional else inputs
        return tf.tile(tf.tanh(z[:, :1])[:, :, None, None], [1, 4, 4, 1])

    def discriminator(inputs, training):
        x, labels = inputs if conditional else (inputs, tf.zeros([len(inputs)], tf.int32))
        assert training, "fakes are judged as in training: on the batch's own statistics"
        return 4.0 * tf.reduce_mean(x, axis=[1, 2, 3])[:, None] + tf.cast(labels, tf.float32)[:, None]
    return SimpleNamespace(ema_generator=generator, discriminator=discriminator)


def test_f_rises_with_the_logit_and_is_the_shifted_logit_far_below_the_best():
    logits = np.array([-20.0, -5.0, 0.0, 2.9])
    values = drs.f_values(logits, 3.0)
    assert np.all(np.diff(values) > 0)
    # Far below the maximum, log(1 - exp(D - M)) vanishes: F is D - M.
    assert abs(values[0] - (-23.0)) < 1e-6
    # Near it the correction lifts F well above D - M (-0.1 here): -0.1 - log(1 - exp(-0.1)) = 2.25.
    assert abs(values[-1] - 2.252) < 1e-3


def test_screening_keeps_the_asked_number_of_each_class_and_prefers_what_the_discriminator_rates_higher():
    cfg = dict(CFG, conditional=True)
    plain = drs.Sampler(stub_state(True), cfg, seed=0).plain([0, 40, 25])
    screened, rates = drs.Sampler(stub_state(True), cfg, seed=0).screened([0, 40, 25], burn_in=200, percentile=95)
    assert {c: len(v) for c, v in plain.items()} == {1: 40, 2: 25}
    assert {c: len(v) for c, v in screened.items()} == {1: 40, 2: 25}
    for c in (1, 2):
        assert 0 < rates[c] < 0.5  # gamma at the 95th percentile of F rejects most images
        assert screened[c].mean() > plain[c].mean() + 20  # brighter: rated more real


def test_an_unconditional_session_is_screened_as_one_class_and_a_seed_repeats_it():
    cfg = dict(CFG, conditional=False)
    first, _ = drs.Sampler(stub_state(False), cfg, seed=3).screened([30], burn_in=100, percentile=50)
    again, _ = drs.Sampler(stub_state(False), cfg, seed=3).screened([30], burn_in=100, percentile=50)
    assert list(first) == [0] and first[0].shape == (30, 4, 4, 1) and first[0].dtype == np.uint8
    np.testing.assert_array_equal(first[0], again[0])
