"""Inception features: Keras' InceptionV3 without its classifier, average-pooled, 2048-d.

uint8 images go in; grayscale is tiled to 3 channels, every image is resized bilinearly
(tf.image.resize: half-pixel centres, no antialiasing, like PyTorch's align_corners=False) to
input_size x input_size (299 by default), then scaled to [-1, 1] by
keras.applications.inception_v3.preprocess_input. The ImageNet weights come through Keras' own
download (cached in ~/.keras/models), or from a local copy of the file.
"""
import hashlib
from pathlib import Path

import numpy as np

from metrics import fid
from utils.errors import UserError

INCEPTION_SIZE = 299
MIN_INCEPTION_SIZE = 75  # the smallest input InceptionV3's stride-2 layers accept
WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_URL = f"https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/{WEIGHTS_FILE}"
WEIGHTS_MD5 = "bcbd6486424b2319ff4ef7d526e38f63"  # Keras' own check of the download
RANDOM = "random"  # seeded random weights: exercises the pipeline in tests; the numbers mean nothing
PIPELINE = "InceptionV3 avg-pool 2048, uint8 in, bilinear resize, preprocess_input (v1)"


def check_weights(weights):
    """'imagenet', 'random' or an existing file (returned absolute); a UserError otherwise."""
    if weights in ("imagenet", RANDOM):
        return weights
    path = Path(weights).expanduser()
    if not path.is_file():
        raise UserError(f"--weights {weights}: no such file. Pass imagenet (Keras downloads the weights once "
                        f"into ~/.keras/models) or the path of a copy of {WEIGHTS_URL}.")
    return str(path.resolve())


def _md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _imagenet_weights():
    from keras.utils import get_file
    try:  # reuses ~/.keras/models/WEIGHTS_FILE when it is there and its hash matches
        return get_file(WEIGHTS_FILE, WEIGHTS_URL, cache_subdir="models", file_hash=WEIGHTS_MD5)
    except Exception as e:  # offline, proxy, partial download, bad hash: all end in the same advice
        raise UserError(
            f"Could not download the InceptionV3 ImageNet weights ({type(e).__name__}: {str(e)[:160]}). "
            f"Is this machine offline? On a machine with internet, fetch {WEIGHTS_URL}, copy the file "
            f"here and pass --weights PATH/{WEIGHTS_FILE} (or put it into ~/.keras/models/).") from None


class InceptionFeatures:
    """uint8 images (N, H, W, 1 or 3) -> (N, 2048) features, `batch_size` images at a time, so
    memory stays flat however many images pass through."""

    def __init__(self, weights="imagenet", input_size=INCEPTION_SIZE, batch_size=50):
        import keras
        import tensorflow as tf
        if input_size < MIN_INCEPTION_SIZE:
            raise UserError(f"The Inception input size must be at least {MIN_INCEPTION_SIZE}, got {input_size}.")
        weights = check_weights(weights)
        if weights == RANDOM:
            keras.utils.set_random_seed(0)  # the same random network in every process keeps the cache valid
        self.model = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=None,
                                                    input_shape=(input_size, input_size, 3))
        name = weights
        if weights != RANDOM:
            path = _imagenet_weights() if weights == "imagenet" else weights
            try:
                self.model.load_weights(path)
            except Exception as e:  # h5py, Keras and OS errors all mean "not this file"
                raise UserError(f"--weights {weights}: cannot be read as InceptionV3 weights without the "
                                f"classifier ({type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}). "
                                f"Use a copy of {WEIGHTS_URL}.") from None
            # A local copy of the official file shares cache entries with --weights imagenet.
            digest = WEIGHTS_MD5 if weights == "imagenet" else _md5(path)  # get_file checked the download
            name = "imagenet" if digest == WEIGHTS_MD5 else f"md5:{digest}"
        self.input_size, self.batch_size, self.images_seen = input_size, batch_size, 0
        self.identity = {"weights": name, "input_size": input_size, "pipeline": PIPELINE}
        shown = {"imagenet": "ImageNet", RANDOM: "seeded random"}.get(name, Path(weights).name)
        self.description = (f"InceptionV3 ({shown} weights), images "
                            f"resized bilinearly to {input_size}x{input_size}, 2048-d average-pool features")

        def forward(images):  # (B, H, W, 3) uint8 -> (B, 2048)
            x = tf.cast(images, tf.float32)
            x = tf.image.resize(x, (input_size, input_size), method="bilinear")
            x = keras.applications.inception_v3.preprocess_input(x)
            return self.model(x, training=False)
        # One trace for every batch and image size; a known channel count keeps Keras' convolutions
        # off its per-shape XLA fallback.
        self._forward = tf.function(forward, input_signature=[tf.TensorSpec((None, None, None, 3), tf.uint8)])

    def statistics(self, batches, keep_features=False):
        """fid.Stats of all images in an iterable of uint8 batches."""
        running = fid.RunningStats(keep_features)
        for batch in batches:
            for start in range(0, len(batch), self.batch_size):
                chunk = batch[start:start + self.batch_size]
                if chunk.shape[-1] == 1:  # grayscale: the same value in R, G and B
                    chunk = np.repeat(chunk, 3, axis=-1)
                running.add(self._forward(chunk).numpy())
                self.images_seen += len(chunk)
        return running.result()
