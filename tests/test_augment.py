"""Augmentation: each transform against a NumPy computation from the same random draws, the
probability gate, determinism, gradients, XLA and a replica function; ADA's update by hand."""
import numpy as np
import pytest
import tensorflow as tf

from models import augment

ALL = augment.TRANSFORMS


def images(batch=8, height=16, width=12, channels=3, seed=0):
    """Values in [-1, -0.1] or [0.1, 1]: none is the fill value 0, so every filled pixel shows.
    Not square, so a swap of rows and columns shows too."""
    rng = np.random.default_rng(seed)
    magnitude = rng.uniform(0.1, 1.0, (batch, height, width, channels))
    return tf.constant(magnitude * rng.choice([-1.0, 1.0], magnitude.shape), tf.float32)


def draws(seed, batch, columns):
    """What augment draws for one transform: the same generator, the same call."""
    return tf.random.Generator.from_seed(seed).uniform([batch, columns]).numpy()


def color_by_hand(x, u):
    x = x + (u[:, 0] - 0.5)[:, None, None, None]
    if x.shape[-1] == 3:  # a single channel has no saturation to change
        gray = x.mean(axis=-1, keepdims=True)
        x = gray + (x - gray) * (2 * u[:, 1])[:, None, None, None]
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return mean + (x - mean) * (u[:, 2] + 0.5)[:, None, None, None]


def translation_by_hand(x, u):
    batch, height, width, _ = x.shape
    out = np.zeros_like(x)
    for b in range(batch):
        dy = int(u[b, 0] * (2 * (height // 8) + 1)) - height // 8
        dx = int(u[b, 1] * (2 * (width // 8) + 1)) - width // 8
        for i in range(height):
            for j in range(width):
                if 0 <= i + dy < height and 0 <= j + dx < width:
                    out[b, i, j] = x[b, i + dy, j + dx]
    return out


def cutout_by_hand(x, u):
    out = x.copy()
    height, width = x.shape[1:3]
    for b in range(len(x)):
        top = int(u[b, 0] * (height + 1)) - height // 4  # even sides: centre in 0..height
        left = int(u[b, 1] * (width + 1)) - width // 4
        out[b, max(top, 0):top + height // 2, max(left, 0):left + width // 2] = 0.0
    return out


def test_policy_names_parse_and_bad_names_are_refused_by_name():
    assert augment.parse_policy("none") == ()
    assert augment.parse_policy("color,translation,cutout") == ALL
    assert augment.parse_policy("cutout, color") == ("cutout", "color")
    with pytest.raises(ValueError, match=r"'colour'.*color, translation, cutout"):
        augment.parse_policy("colour,cutout")
    for bad in ("", "none,color", "color,color"):
        with pytest.raises(ValueError):
            augment.parse_policy(bad)
    with pytest.raises(ValueError, match="'flip'"):
        augment.augment(images(), ("flip",), 1.0, tf.random.Generator.from_seed(0))


@pytest.mark.parametrize("channels", [1, 3])
def test_color_is_the_reference_formula_and_is_not_clipped(channels):
    x = images(channels=channels)
    out = augment.augment(x, ("color",), 1.0, tf.random.Generator.from_seed(4))
    assert out.shape == x.shape and out.dtype == tf.float32
    np.testing.assert_allclose(out.numpy(), color_by_hand(x.numpy(), draws(4, 8, 4)[:, 1:]), atol=1e-5)
    assert out.numpy().max() > 1.0 or out.numpy().min() < -1.0  # DiffAugment does not clip, nor do we


@pytest.mark.parametrize("channels", [1, 3])
def test_translation_is_a_shifted_copy_padded_with_zero(channels):
    x = images(batch=16, channels=channels)
    out = augment.augment(x, ("translation",), 1.0, tf.random.Generator.from_seed(5))
    u = draws(5, 16, 3)[:, 1:]
    assert len(set((u[:, 0] * 5).astype(int))) >= 3  # several shifts drawn, not only one
    np.testing.assert_array_equal(out.numpy(), translation_by_hand(x.numpy(), u))
    assert out.numpy().min() >= -1.0 and out.numpy().max() <= 1.0


@pytest.mark.parametrize("channels", [1, 3])
def test_cutout_fills_one_half_size_square_with_zero(channels):
    x = images(batch=16, channels=channels)
    out = augment.augment(x, ("cutout",), 1.0, tf.random.Generator.from_seed(6)).numpy()
    np.testing.assert_array_equal(out, cutout_by_hand(x.numpy(), draws(6, 16, 3)[:, 1:]))
    zeroed = (out == 0).all(axis=-1).sum(axis=(1, 2))
    # At least a quarter of the 8x6 square stays inside the image, at most all of it.
    assert zeroed.min() >= 4 * 3 and zeroed.max() <= 8 * 6 and len(set(zeroed)) > 1
    assert out.min() >= -1.0 and out.max() <= 1.0


@pytest.mark.parametrize("dtype", [tf.float32, tf.float16])
def test_p_zero_is_the_identity_bit_for_bit_and_draws_as_much_as_p_one(dtype):
    x = tf.cast(images(), dtype)
    rng_zero, rng_one = tf.random.Generator.from_seed(1), tf.random.Generator.from_seed(1)
    out = augment.augment(x, ALL, tf.Variable(0.0), rng_zero)
    assert out.dtype == dtype
    assert out.numpy().tobytes() == x.numpy().tobytes()
    augment.augment(x, ALL, tf.Variable(1.0), rng_one)
    np.testing.assert_array_equal(rng_zero.state.numpy(), rng_one.state.numpy())


def test_policy_none_returns_the_images_and_draws_nothing():
    rng = tf.random.Generator.from_seed(1)
    state = rng.state.numpy().copy()
    x = images()
    assert augment.augment(x, "none", 1.0, rng) is x
    np.testing.assert_array_equal(rng.state.numpy(), state)


def test_p_one_changes_every_image_and_the_seed_decides_how():
    x = images()
    first = augment.augment(x, ALL, 1.0, tf.random.Generator.from_seed(2)).numpy()
    again = augment.augment(x, ALL, 1.0, tf.random.Generator.from_seed(2)).numpy()
    other = augment.augment(x, ALL, 1.0, tf.random.Generator.from_seed(3)).numpy()
    assert (first != x.numpy()).any(axis=(1, 2, 3)).all()
    np.testing.assert_array_equal(first, again)
    assert (first != other).any(axis=(1, 2, 3)).all()


def test_float16_comes_back_float16_and_close_to_float32():
    x = images()
    half = augment.augment(tf.cast(x, tf.float16), ALL, 1.0, tf.random.Generator.from_seed(7))
    full = augment.augment(x, ALL, 1.0, tf.random.Generator.from_seed(7))
    assert half.dtype == tf.float16
    np.testing.assert_allclose(half.numpy().astype(np.float32), full.numpy(), atol=5e-3)


def test_gradients_reach_a_variable_through_every_transform():
    weights = tf.Variable(tf.random.stateless_normal([8, 16, 12, 3], [0, 1]))
    target = tf.random.stateless_normal([8, 16, 12, 3], [0, 2])
    with tf.GradientTape() as tape:
        fake = tf.tanh(weights)  # stands in for the generator's output layer
        loss = tf.reduce_sum(augment.augment(fake, ALL, 1.0, tf.random.Generator.from_seed(8)) * target)
    gradient = tape.gradient(loss, weights)
    assert gradient is not None and np.isfinite(gradient.numpy()).all()
    assert (np.abs(gradient.numpy()).sum(axis=(1, 2, 3)) > 0).all()
    # Cutout alone: d loss / d pixel is the target where the pixel survives, 0 under the square.
    fake = tf.Variable(images())
    with tf.GradientTape() as tape:
        out = augment.augment(fake, ("cutout",), 1.0, tf.random.Generator.from_seed(8))
        loss = tf.reduce_sum(out * target)
    np.testing.assert_array_equal(tape.gradient(loss, fake).numpy(), np.where(out.numpy() == 0, 0.0, target))


def test_compiles_with_xla_gradient_included():
    rng, p = tf.random.Generator.from_seed(9), tf.Variable(1.0)
    weights = tf.Variable(images())

    @tf.function(jit_compile=True)
    def step():
        with tf.GradientTape() as tape:
            out = augment.augment(weights, ALL, p, rng)
            loss = tf.reduce_sum(tf.square(out))
        return out, tape.gradient(loss, weights)

    out, gradient = step()
    assert out.shape == (8, 16, 12, 3) and (out.numpy() != weights.numpy()).any(axis=(1, 2, 3)).all()
    assert np.abs(gradient.numpy()).sum() > 0
    p.assign(0.0)  # the variable is read at run time, not frozen into the compiled function
    out, _ = step()
    assert out.numpy().tobytes() == weights.numpy().tobytes()


def test_runs_in_a_compiled_replica_function():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        rng, p = tf.random.Generator.from_seed(10), tf.Variable(1.0)
    x = tf.cast(images(), tf.float16)

    @tf.function(jit_compile=True)
    def step(x):
        return strategy.run(lambda x: augment.augment(x, ALL, p, rng), args=(x,))

    out = step(x)
    assert out.dtype == tf.float16 and out.shape == x.shape
    assert (out.numpy() != x.numpy()).any(axis=(1, 2, 3)).all()


# Translation of a 16x12 image draws one of 5 x 3 shifts; (0, 0), 1 in 15, leaves it unchanged.
@pytest.mark.parametrize("policy, share", [(("color",), 0.5), (("translation",), 0.5 * (1 - 1 / 15)),
                                           (("cutout",), 0.5), (ALL, 1 - 0.5 ** 3)])
def test_each_transform_changes_a_share_p_of_the_images(policy, share):
    # 256 images: the changed share's standard deviation is at most 0.031; 4 of them allowed.
    x = images(batch=256, channels=1)
    out = augment.augment(x, policy, tf.constant(0.5), tf.random.Generator.from_seed(11)).numpy()
    changed = (out != x.numpy()).any(axis=(1, 2, 3)).mean()
    assert abs(changed - share) < 4 * np.sqrt(share * (1 - share) / 256)


def test_ada_moves_p_by_batch_times_interval_over_speed():
    # 64 images x 4 steps / 100k images = 0.00256 per adjustment.
    assert augment.ada_adjust(0.5, 0.9, 64, 4).numpy() == pytest.approx(0.50256)
    assert augment.ada_adjust(0.5, 0.1, 64, 4).numpy() == pytest.approx(0.49744)
    assert augment.ada_adjust(0.5, 0.6, 64, 4).numpy() == pytest.approx(0.5)  # on target: stays
    assert augment.ada_adjust(0.5, 0.7, 32, 4, target=0.8, speed_images=500_000).numpy() == \
        pytest.approx(0.5 - 32 * 4 / 500_000)
    assert augment.ada_adjust(0.999, 1.0, 64, 4).numpy() == 1.0
    assert augment.ada_adjust(0.001, -1.0, 64, 4).numpy() == 0.0


def test_ada_updates_a_variable_inside_a_compiled_function():
    p = tf.Variable(0.0)
    update = tf.function(lambda r_t: p.assign(augment.ada_adjust(p, r_t, tf.constant(50), 4)), jit_compile=True)
    for _ in range(3):
        update(tf.constant(0.95))
    assert p.numpy() == pytest.approx(3 * 50 * 4 / 100_000)
