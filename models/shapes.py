"""Image sizes the networks are built for, and how each is reached by stride-2 steps.

Plain Python, no Keras: the config validator and the app read these without loading TensorFlow.
"""
SUPPORTED_SIZES = (28, 32, 64, 128)


def layout(image_size):
    """(start size, number of stride-2 steps) for an image size."""
    if image_size not in SUPPORTED_SIZES:
        raise ValueError(f"image_size {image_size} is not supported; use one of "
                         f"{', '.join(map(str, SUPPORTED_SIZES))}")
    start = 7 if image_size == 28 else 4
    steps = (image_size // start).bit_length() - 1
    assert start * 2 ** steps == image_size
    return start, steps
