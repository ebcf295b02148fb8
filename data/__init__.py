"""Dataset loading. Image folders a user trains on may be put beside this file (git ignores them)."""
from data.datasets import TrainingImages, cache_root, load_idx_labelled, load_training_images, resolve_data_arg
from data.labels import FASHION_MNIST_CLASSES, MNIST_CLASSES, class_frequencies, read_idx_labels
from data.pipeline import epoch_dataset, steps_per_epoch, to_float
