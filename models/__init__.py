"""Networks and losses. Pure: no file I/O, no argument parsing, no printing.

The names below load Keras on first use, not on `import models`: models.shapes (sizes, plain
Python) must be readable by the config validator without TensorFlow.
"""
import importlib

_EXPORTS = {
    "models.conditional": ("build_conditional_generator", "build_projection_discriminator", "sample_labels"),
    "models.dcgan": ("build_discriminator", "build_generator", "discriminator_trunk", "generator_trunk", "noise"),
    "models.losses": ("accuracy", "discriminator_loss", "generator_loss"),
    "models.sampling": ("sample_batches",),
    "models.policy": ("TRANSFORMS", "parse_policy"),
    "models.shapes": ("SUPPORTED_SIZES", "layout"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULE_OF[name]), name)
