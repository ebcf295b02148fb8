"""Dataset loading: IDX files and image folders (datasets), the decode-once cache (cache) and the
per-epoch tf.data pipeline (pipeline). Image folders a user trains on may be put beside this file
(git ignores them). Modules are imported by name; only the pipeline loads TensorFlow."""
