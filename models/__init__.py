"""Networks and losses. Pure: no file I/O, no argument parsing, no printing."""
from models.conditional import build_conditional_generator, build_projection_discriminator, sample_labels
from models.dcgan import (SUPPORTED_SIZES, build_discriminator, build_generator, discriminator_trunk,
                          generator_trunk, layout, noise)
from models.losses import accuracy, discriminator_loss, generator_loss
