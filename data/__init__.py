"""Dataset loading: a session's training set (datasets), from the IDX files of MNIST and
Fashion-MNIST (idx) or image folders (decode), with their labels (labels), the decode-once cache
(cache) and the per-epoch tf.data pipeline (pipeline). Image folders a user trains on may be put
beside this file (git ignores them). Modules are imported by name; only the pipeline loads TensorFlow."""
