"""Dataset loading. Image folders a user trains on may be put beside this file (git ignores them)."""
from data.datasets import TrainingImages, cache_root, load_training_images, resolve_data_arg
from data.pipeline import epoch_dataset, steps_per_epoch, to_float
