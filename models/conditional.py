"""Class-conditional DCGAN: one generator and one discriminator for every class of a labelled set.

The generator reads its label as a learned embedding concatenated to the noise; the discriminator
is a projection discriminator (Miyato & Koyama 2018, "cGANs with Projection Discriminator"):
logit = Dense(1)(f) + <embedding(y), f> over the discriminator's features f, so the label decides
which direction in feature space counts as real for that class.
"""
import keras
import tensorflow as tf
from keras import layers

from models.dcgan import _compute_dtype, _initializers, discriminator_trunk, generator_trunk

# Width of the generator's label code. The first Dense hears the label as W_e @ e_y, a freely
# learned vector per class as long as the width is at least the number of classes; 50 covers the
# usual labelled sets (10 to 50 classes) at half the default noise width, and is the width common
# Keras cGAN tutorials embed labels at. Tied to noise_dim, it would change with a key about the noise.
LABEL_EMBEDDING_WIDTH = 50


def build_conditional_generator(cfg, num_classes):
    """(noise (B, noise_dim), label (B,) int32) -> image (B, size, size, channels) in [-1, 1].

    A functional Model because it has two inputs; the trunk it calls stays the Sequential DCGAN
    generator, so the architecture reads as it does unconditionally.
    """
    size, channels, noise_dim = cfg["image_size"], cfg["channels"], cfg["noise_dim"]
    inits = _initializers(cfg)
    dtype = _compute_dtype(cfg)
    trunk = generator_trunk(cfg, noise_dim + LABEL_EMBEDDING_WIDTH, inits, name="generator_trunk")

    noise = keras.Input(shape=(noise_dim,), name="noise")
    label = keras.Input(shape=(), dtype="int32", name="label")
    # The label code starts at init_std like every other weight, far quieter than z ~ N(0, 1): the
    # generator first learns to draw images from the noise and the label steers them as its code
    # grows. Started at z's scale (stddev 1), the code drowned the noise and each class collapsed
    # to nearly one image (bench/README.md, "conditional").
    code = layers.Embedding(num_classes, LABEL_EMBEDDING_WIDTH, embeddings_initializer=next(inits),
                            dtype=dtype, name="label_embedding")(label)
    assert code.shape == (None, LABEL_EMBEDDING_WIDTH)
    images = trunk(layers.Concatenate(dtype=dtype)([noise, code]))
    model = keras.Model([noise, label], images, name="generator")
    assert model.output_shape == (None, size, size, channels)
    return model


def build_projection_discriminator(cfg, num_classes):
    """(image (B, size, size, channels), label (B,) int32) -> real/fake logit (B, 1), float32.

    A functional Model because it has two inputs and a two-branch head; the trunk stays the
    Sequential DCGAN discriminator up to its flattened features.
    """
    size, channels = cfg["image_size"], cfg["channels"]
    inits = _initializers(cfg)
    trunk = discriminator_trunk(cfg, inits, name="discriminator_trunk")
    width = trunk.output_shape[-1]

    image = keras.Input(shape=(size, size, channels), name="image")
    label = keras.Input(shape=(), dtype="int32", name="label")
    features = trunk(image)  # (B, F)
    unconditional = layers.Dense(1, kernel_initializer=next(inits), dtype="float32", name="logit")(features)
    # e_y is a per-class second Dense(1) kernel, so it starts at the same scale as the first.
    # float32 throughout: under mixed precision a sum over F float16 products loses the logit.
    embedded = layers.Embedding(num_classes, width, embeddings_initializer=next(inits), dtype="float32",
                                name="class_projection")(label)  # (B, F)
    projection = layers.Dot(axes=1, dtype="float32")([embedded, features])  # (B, 1): <e_y, f>
    logit = layers.Add(dtype="float32")([unconditional, projection])
    model = keras.Model([image, label], logit, name="discriminator")
    assert model.output_shape == (None, 1)
    return model


def sample_labels(rng, batch_size, class_probabilities):
    """(batch_size,) int32 labels drawn from tf.random.Generator rng with the given class
    probabilities (e.g. the training set's class frequencies).

    Inverse-CDF sampling from one rng.uniform draw: the labels are reproducible from the rng's
    checkpointed state, and comparing against the CDF (rather than searchsorted) compiles with XLA.
    """
    probabilities = tf.convert_to_tensor(class_probabilities, tf.float32)  # (C,)
    cdf = tf.cumsum(probabilities)
    # Scaled by the total so probabilities that sum to 1 only up to rounding cannot leave a gap
    # above the last class.
    u = rng.uniform((batch_size, 1), 0.0, 1.0, dtype=tf.float32) * cdf[-1]
    # The label is the number of classes whose CDF lies at or below u; a class of probability 0
    # shares its CDF value with the class before it and so is never drawn.
    labels = tf.reduce_sum(tf.cast(u >= cdf[None, :-1], tf.int32), axis=1)
    return labels
