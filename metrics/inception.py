"""Inception features for FID: uint8 images in, 2048-d pool features out.

Two networks, chosen by --weights / fid_weights:
  standard  the 2015 FID Inception network (metrics/fid_inception.py) with pytorch-fid's weights,
            as TTUR, pytorch-fid and StyleGAN2-ADA measure: values compare with published tables
            at equal image counts. The default. Images are resized by TensorFlow 1's bilinear rule.
  imagenet  Keras' ImageNet InceptionV3 (resized with half-pixel centres, preprocess_input):
            values compare runs of this tool with each other only.
A local file is told apart by its content: a PyTorch archive is the standard network's weights,
an HDF5 file Keras' InceptionV3 weights. `random` gives the standard network seeded random
weights, to exercise the pipeline where no weights file is at hand; its numbers mean nothing.
Downloads land once in Keras' cache folder (~/.keras/models) and are checked against their hash.
"""
import hashlib
import os
from pathlib import Path

import numpy as np

from metrics import fid, fid_inception, torch_archive
from utils.errors import UserError

INCEPTION_SIZE = 299
MIN_INCEPTION_SIZE = 75  # the smallest input Inception's stride-2 layers accept
STANDARD, IMAGENET, RANDOM = "standard", "imagenet", "random"
KERAS_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_WEIGHTS_URL = f"https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/{KERAS_WEIGHTS_FILE}"
KERAS_WEIGHTS_MD5 = "bcbd6486424b2319ff4ef7d526e38f63"  # Keras' own check of the download
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# What the features are, for the statistics cache: a change here makes old statistics miss.
PIPELINES = {
    STANDARD: "inception-2015-12-05 pool3 2048, uint8 in, TF1 bilinear resize, (x-128)/128 (v2)",
    IMAGENET: "Keras InceptionV3 avg-pool 2048, uint8 in, bilinear resize, preprocess_input (v1)",
}
STANDARD_SOURCE = (f"pytorch-fid's port of the 2015 FID Inception network, {fid_inception.WEIGHTS_URL} "
                   f"(about 92 MB; torch-fidelity uses the same file)")


def check_weights(weights):
    """'standard', 'imagenet', 'random' or an existing file (returned absolute); a UserError otherwise."""
    if weights in (STANDARD, IMAGENET, RANDOM):
        return weights
    path = Path(weights).expanduser()
    if not path.is_file():
        raise UserError(f"--weights {weights}: no such file. Pass standard (the FID Inception weights, downloaded "
                        f"once into ~/.keras/models) or the path of a copy of {fid_inception.WEIGHTS_URL}; "
                        f"imagenet, or a copy of {KERAS_WEIGHTS_URL}, for Keras' InceptionV3.")
    return str(path.resolve())


def _digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(file_name, url, what, file_hash=None):
    from keras.utils import get_file
    try:  # reuses ~/.keras/models/file_name when it is there (and its hash matches, when Keras checks one)
        return get_file(file_name, url, cache_subdir="models", file_hash=file_hash)
    except Exception as e:  # offline, proxy, partial download, bad hash: all end in the same advice
        raise UserError(
            f"Could not download {what} ({type(e).__name__}: {str(e)[:160]}). Is this machine offline? On a machine "
            f"with internet, fetch {url}, copy the file here and pass --weights PATH/{file_name} (fid_weights in a "
            f"training config), or put it into ~/.keras/models/.") from None


def _standard_weights():
    """Path of the downloaded standard file, its SHA-256 prefix checked as torch.hub checks it."""
    path = _download(fid_inception.WEIGHTS_FILE, fid_inception.WEIGHTS_URL, "the FID Inception weights")
    if not _digest(path, "sha256").startswith(fid_inception.WEIGHTS_SHA256_PREFIX):
        os.remove(path)  # a damaged download must not be found again next time
        raise UserError(f"The downloaded {fid_inception.WEIGHTS_FILE} does not have the SHA-256 its name promises "
                        f"({fid_inception.WEIGHTS_SHA256_PREFIX}...): it was removed; run again to download it anew, "
                        f"or pass --weights PATH to a good copy of {fid_inception.WEIGHTS_URL}.")
    return path


def network_of(weights):
    """Which network a checked --weights value loads: STANDARD or IMAGENET."""
    if weights in (STANDARD, RANDOM):
        return STANDARD
    if weights == IMAGENET:
        return IMAGENET
    with open(weights, "rb") as f:
        head = f.read(len(HDF5_SIGNATURE))
    if head == HDF5_SIGNATURE:
        return IMAGENET
    if head.startswith((b"PK\x03\x04", b"\x80")):  # a zip archive, or a legacy torch.save pickle
        return STANDARD
    raise UserError(f"--weights {weights}: neither a PyTorch file (the FID Inception weights, {STANDARD_SOURCE}) "
                    f"nor an HDF5 file (Keras' InceptionV3 weights, {KERAS_WEIGHTS_URL}). Download one of them "
                    "again, or pass standard or imagenet to have it downloaded.")


def _load_standard(model, path, shown):
    try:
        tensors = torch_archive.read_state_dict(path)
    except (torch_archive.ArchiveError, OSError) as e:
        raise UserError(f"--weights {shown}: cannot be read as FID Inception weights: {e}. The standard file is "
                        f"{STANDARD_SOURCE}.") from None
    problems = fid_inception.check_state_dict(model, tensors)
    if problems:
        raise UserError(f"--weights {shown}: a PyTorch file, but not of the FID Inception network: "
                        f"{'; '.join(problems)}. The standard file is {STANDARD_SOURCE}.")
    fid_inception.load_state_dict(model, tensors)


def _load_keras(model, path, shown):
    try:
        model.load_weights(path)
    except Exception as e:  # h5py, Keras and OS errors all mean "not this file"
        raise UserError(f"--weights {shown}: cannot be read as InceptionV3 weights without the classifier "
                        f"({type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}). "
                        f"Use a copy of {KERAS_WEIGHTS_URL}.") from None


class InceptionFeatures:
    """uint8 images (N, H, W, 1 or 3) -> (N, 2048) features, `batch_size` images at a time, so
    memory stays flat however many images pass through."""

    def __init__(self, weights=STANDARD, input_size=INCEPTION_SIZE, batch_size=50):
        import keras
        import tensorflow as tf
        if input_size < MIN_INCEPTION_SIZE:
            raise UserError(f"The Inception input size must be at least {MIN_INCEPTION_SIZE}, got {input_size}.")
        weights = check_weights(weights)
        self.network = network_of(weights)
        if weights == RANDOM:
            keras.utils.set_random_seed(0)  # the same random network in every process keeps the cache valid
        if self.network == STANDARD:
            self.model = fid_inception.build(input_size)
        else:
            self.model = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=None,
                                                        input_shape=(input_size, input_size, 3))
        name = weights
        if weights in (STANDARD, IMAGENET):
            path = _standard_weights() if weights == STANDARD else _download(
                KERAS_WEIGHTS_FILE, KERAS_WEIGHTS_URL, "the InceptionV3 ImageNet weights", KERAS_WEIGHTS_MD5)
        else:
            path = None if weights == RANDOM else weights
        if path is not None:
            (_load_standard if self.network == STANDARD else _load_keras)(self.model, path, weights)
            # A local copy of the official file shares cache entries with the download.
            if self.network == STANDARD:
                digest = _digest(path, "sha256")
                official = digest.startswith(fid_inception.WEIGHTS_SHA256_PREFIX)
                name = STANDARD if official else f"sha256:{digest[:16]}"
            else:
                digest = _digest(path, "md5")
                name = IMAGENET if digest == KERAS_WEIGHTS_MD5 else f"md5:{digest}"
        self.input_size, self.batch_size, self.images_seen = input_size, batch_size, 0
        self.identity = {"weights": name, "input_size": input_size, "pipeline": PIPELINES[self.network]}
        shown = {STANDARD: "standard", IMAGENET: "ImageNet", RANDOM: "seeded random"}.get(name, Path(weights).name)
        if self.network == STANDARD:
            self.description = (f"the 2015 FID Inception network ({shown} weights), images resized bilinearly "
                                f"to {input_size}x{input_size} as TensorFlow 1 did, 2048-d pool features")
        else:
            self.description = (f"Keras' InceptionV3 ({shown} weights), images resized bilinearly "
                                f"to {input_size}x{input_size}, 2048-d average-pool features")

        def forward(images):  # (B, H, W, 3) uint8 -> (B, 2048)
            if self.network == STANDARD:
                x = fid_inception.preprocess(images, input_size)
            else:
                x = tf.image.resize(tf.cast(images, tf.float32), (input_size, input_size), method="bilinear")
                x = keras.applications.inception_v3.preprocess_input(x)
            return self.model(x, training=False)
        # One trace for every batch and image size; a known channel count keeps Keras' convolutions
        # off its per-shape XLA fallback.
        self._forward = tf.function(forward, input_signature=[tf.TensorSpec((None, None, None, 3), tf.uint8)])

    def _feature_chunks(self, images):
        for start in range(0, len(images), self.batch_size):
            chunk = images[start:start + self.batch_size]
            if chunk.shape[-1] == 1:  # grayscale: the same value in R, G and B
                chunk = np.repeat(chunk, 3, axis=-1)
            self.images_seen += len(chunk)
            yield self._forward(chunk).numpy()

    def features(self, images):
        """(N, 2048) float32 features of uint8 images (N, H, W, 1 or 3)."""
        chunks = list(self._feature_chunks(images))
        return np.concatenate(chunks) if chunks else np.zeros((0, fid_inception.FEATURES), np.float32)

    def statistics(self, batches, keep_features=False):
        """fid.Stats of all images in an iterable of uint8 batches."""
        running = fid.RunningStats(keep_features)
        for batch in batches:
            for chunk in self._feature_chunks(batch):
                running.add(chunk)
        return running.result()
