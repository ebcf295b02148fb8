"""Networks and losses. Pure: no file I/O, no argument parsing, no printing."""
from models.dcgan import SUPPORTED_SIZES, build_discriminator, build_generator, layout, noise
from models.losses import accuracy, discriminator_loss, generator_loss
