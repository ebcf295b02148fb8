"""The FID Inception network: the 2015 Inception graph (inception-2015-12-05) rebuilt in Keras.

This is the network of TTUR's fid.py, TF-GAN, pytorch-fid, clean-fid's legacy mode and
StyleGAN2-ADA's metrics, so FIDs measured with it compare with published tables. It is not
Keras' (or torchvision's) InceptionV3: pytorch-fid's FIDInceptionA/C/E name the differences,
  - every average pool in the mixed blocks leaves the zero padding out of the mean (TensorFlow's
    SAME average pooling, Keras' too),
  - the pool branch of the last block (Mixed_7c) max-pools instead,
and the weights are their own. Inputs are treated as the graph did: uint8 images cast to float,
resized by TensorFlow 1's ResizeBilinear (no half-pixel centres, no antialiasing) to 299x299,
then scaled by (x - 128) / 128. The features are the 2048 channels of the last block, averaged.

The weights come from pytorch-fid's port of the graph (pt_inception-2015-12-05-6726825d.pth, the
file torch-fidelity uses too), read without PyTorch by metrics/torch_archive.py. Layers carry the
names of that file's keys (Conv2d_1a_3x3, Mixed_5b.branch1x1, ...) so loading is by name.
"""
import numpy as np

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{WEIGHTS_FILE}"
WEIGHTS_SHA256_PREFIX = "6726825d"  # checked as torch.hub does: the file's SHA-256 starts with it
FEATURES = 2048
# tensor names of each conv+batchnorm unit in the weights file, and what the Keras layers hold
CONV_KEYS = ("conv.weight",)
BN_KEYS = ("bn.weight", "bn.bias", "bn.running_mean", "bn.running_var")
# Keys of the file that the features do not use (the ImageNet classifier): accepted when their
# shapes are the 2015 graph's 1008 classes, so another Inception's file is still told apart.
UNUSED_KEYS = {"fc.weight": (1008, 2048), "fc.bias": (1008,)}


def _conv_bn(keras, x, name, filters, kernel, strides=1, padding="valid"):
    """pytorch-fid's BasicConv2d: a convolution without bias, batchnorm (eps 1e-3), ReLU."""
    x = keras.layers.Conv2D(filters, kernel, strides, padding, use_bias=False, name=f"{name}.conv",
                            dtype="float32")(x)
    x = keras.layers.BatchNormalization(epsilon=1e-3, name=f"{name}.bn", dtype="float32")(x)
    return keras.layers.ReLU(dtype="float32")(x)


def _avg_pool(keras, x):
    # Keras' SAME average pooling divides by the pixels inside the image: count_include_pad=False.
    return keras.layers.AveragePooling2D(3, 1, "same", dtype="float32")(x)


def _block_a(keras, x, name, pool_features):
    return keras.layers.Concatenate(name=name, dtype="float32")([
        _conv_bn(keras, x, f"{name}.branch1x1", 64, 1),
        _conv_bn(keras, _conv_bn(keras, x, f"{name}.branch5x5_1", 48, 1), f"{name}.branch5x5_2", 64, 5, padding="same"),
        _conv_bn(keras, _conv_bn(keras, _conv_bn(keras, x, f"{name}.branch3x3dbl_1", 64, 1),
                                 f"{name}.branch3x3dbl_2", 96, 3, padding="same"),
                 f"{name}.branch3x3dbl_3", 96, 3, padding="same"),
        _conv_bn(keras, _avg_pool(keras, x), f"{name}.branch_pool", pool_features, 1)])


def _block_b(keras, x, name):
    dbl = _conv_bn(keras, x, f"{name}.branch3x3dbl_1", 64, 1)
    dbl = _conv_bn(keras, dbl, f"{name}.branch3x3dbl_2", 96, 3, padding="same")
    return keras.layers.Concatenate(name=name, dtype="float32")([
        _conv_bn(keras, x, f"{name}.branch3x3", 384, 3, strides=2),
        _conv_bn(keras, dbl, f"{name}.branch3x3dbl_3", 96, 3, strides=2),
        keras.layers.MaxPooling2D(3, 2, dtype="float32")(x)])


def _block_c(keras, x, name, c7):
    seven = x
    for i, (filters, kernel) in enumerate([(c7, 1), (c7, (1, 7)), (192, (7, 1))], 1):
        seven = _conv_bn(keras, seven, f"{name}.branch7x7_{i}", filters, kernel, padding="same")
    dbl = x
    for i, (filters, kernel) in enumerate([(c7, 1), (c7, (7, 1)), (c7, (1, 7)), (c7, (7, 1)), (192, (1, 7))], 1):
        dbl = _conv_bn(keras, dbl, f"{name}.branch7x7dbl_{i}", filters, kernel, padding="same")
    return keras.layers.Concatenate(name=name, dtype="float32")([
        _conv_bn(keras, x, f"{name}.branch1x1", 192, 1), seven, dbl,
        _conv_bn(keras, _avg_pool(keras, x), f"{name}.branch_pool", 192, 1)])


def _block_d(keras, x, name):
    three = _conv_bn(keras, _conv_bn(keras, x, f"{name}.branch3x3_1", 192, 1), f"{name}.branch3x3_2", 320, 3,
                     strides=2)
    seven = x
    for i, (filters, kernel, strides, padding) in enumerate(
            [(192, 1, 1, "same"), (192, (1, 7), 1, "same"), (192, (7, 1), 1, "same"), (192, 3, 2, "valid")], 1):
        seven = _conv_bn(keras, seven, f"{name}.branch7x7x3_{i}", filters, kernel, strides, padding)
    pooled = keras.layers.MaxPooling2D(3, 2, dtype="float32")(x)
    return keras.layers.Concatenate(name=name, dtype="float32")([three, seven, pooled])


def _block_e(keras, x, name, pool):
    three = _conv_bn(keras, x, f"{name}.branch3x3_1", 384, 1)
    three = keras.layers.Concatenate(dtype="float32")([
        _conv_bn(keras, three, f"{name}.branch3x3_2a", 384, (1, 3), padding="same"),
        _conv_bn(keras, three, f"{name}.branch3x3_2b", 384, (3, 1), padding="same")])
    dbl = _conv_bn(keras, x, f"{name}.branch3x3dbl_1", 448, 1)
    dbl = _conv_bn(keras, dbl, f"{name}.branch3x3dbl_2", 384, 3, padding="same")
    dbl = keras.layers.Concatenate(dtype="float32")([
        _conv_bn(keras, dbl, f"{name}.branch3x3dbl_3a", 384, (1, 3), padding="same"),
        _conv_bn(keras, dbl, f"{name}.branch3x3dbl_3b", 384, (3, 1), padding="same")])
    pooled = (keras.layers.MaxPooling2D(3, 1, "same", dtype="float32")(x) if pool == "max"
              else _avg_pool(keras, x))
    return keras.layers.Concatenate(name=name, dtype="float32")([
        _conv_bn(keras, x, f"{name}.branch1x1", 320, 1), three, dbl,
        _conv_bn(keras, pooled, f"{name}.branch_pool", 192, 1)])


def build(input_size=299):
    """The network from scaled float images (B, S, S, 3) to (B, 2048) features, with Keras'
    initial weights. At 299 the blocks' outputs are 35x35x288 (Mixed_5d), 17x17x768 (Mixed_6e)
    and 8x8x2048 (Mixed_7c), as in the graph."""
    import keras
    inputs = keras.Input((input_size, input_size, 3), dtype="float32")
    x = _conv_bn(keras, inputs, "Conv2d_1a_3x3", 32, 3, strides=2)
    x = _conv_bn(keras, x, "Conv2d_2a_3x3", 32, 3)
    x = _conv_bn(keras, x, "Conv2d_2b_3x3", 64, 3, padding="same")
    x = keras.layers.MaxPooling2D(3, 2, dtype="float32")(x)
    x = _conv_bn(keras, x, "Conv2d_3b_1x1", 80, 1)
    x = _conv_bn(keras, x, "Conv2d_4a_3x3", 192, 3)
    x = keras.layers.MaxPooling2D(3, 2, dtype="float32")(x)
    for name, pool_features in [("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)]:
        x = _block_a(keras, x, name, pool_features)
    x = _block_b(keras, x, "Mixed_6a")
    for name, c7 in [("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)]:
        x = _block_c(keras, x, name, c7)
    x = _block_d(keras, x, "Mixed_7a")
    x = _block_e(keras, x, "Mixed_7b", pool="avg")
    x = _block_e(keras, x, "Mixed_7c", pool="max")
    features = keras.layers.GlobalAveragePooling2D(dtype="float32")(x)
    assert features.shape[-1] == FEATURES, features.shape
    return keras.Model(inputs, features, name="fid_inception_2015")


def expected_shapes(model):
    """{key in the weights file: the shape PyTorch stores it in} for every weight the model holds."""
    shapes = {}
    for layer in model.layers:
        if layer.name.endswith(".conv"):
            kh, kw, cin, cout = layer.kernel.shape
            shapes[f"{layer.name}.weight"] = (cout, cin, kh, kw)
        elif layer.name.endswith(".bn"):
            for key in BN_KEYS:
                shapes[f"{layer.name[:-3]}.{key}"] = (layer.gamma.shape[0],)
    return shapes


def check_state_dict(model, tensors):
    """A list of what is wrong with `tensors` as this network's weights (empty when nothing is)."""
    expected = expected_shapes(model)
    problems = []
    missing = sorted(set(expected) - set(tensors))
    if missing:
        problems.append(f"{len(missing)} tensors missing (e.g. {', '.join(missing[:3])})")
    unknown = sorted(k for k in set(tensors) - set(expected)
                     if k not in UNUSED_KEYS and not k.endswith(".num_batches_tracked"))
    if unknown:
        problems.append(f"{len(unknown)} tensors this network does not have (e.g. {', '.join(unknown[:3])})")
    wrong = [f"{k} is {tuple(tensors[k].shape)}, not {shape}" for k, shape in
             [*expected.items(), *UNUSED_KEYS.items()] if k in tensors and tuple(tensors[k].shape) != shape]
    if wrong:
        problems.append(f"{len(wrong)} tensors of another shape ({'; '.join(wrong[:3])})")
    return problems


def load_state_dict(model, tensors):
    """Sets every weight from pytorch-fid's tensors; call check_state_dict first."""
    for layer in model.layers:
        if layer.name.endswith(".conv"):
            layer.kernel.assign(np.transpose(tensors[f"{layer.name}.weight"], (2, 3, 1, 0)))
        elif layer.name.endswith(".bn"):
            prefix = layer.name[:-3]
            layer.gamma.assign(tensors[f"{prefix}.bn.weight"])
            layer.beta.assign(tensors[f"{prefix}.bn.bias"])
            layer.moving_mean.assign(tensors[f"{prefix}.bn.running_mean"])
            layer.moving_variance.assign(tensors[f"{prefix}.bn.running_var"])


def preprocess(images, size):
    """uint8 (B, H, W, 3) -> the graph's input: TensorFlow 1's bilinear resize to size x size (the
    source pixel of output pixel i is i * H / size, no half-pixel offset, no antialiasing), then
    (x - 128) / 128."""
    import tensorflow as tf
    x = tf.cast(images, tf.float32)
    x = tf.raw_ops.ResizeBilinear(images=x, size=[size, size], align_corners=False, half_pixel_centers=False)
    return (x - 128.0) / 128.0
