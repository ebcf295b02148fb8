"""DCGAN_train.py on a CPU split into two logical devices, so that the mirrored strategy has two
replicas on a machine without a GPU: `python tests/train_on_two_cpu_devices.py ARGS...` takes
DCGAN_train.py's arguments."""
import sys
from pathlib import Path

import tensorflow as tf

REPO = Path(__file__).resolve().parent.parent
# Before anything starts TensorFlow's runtime: devices cannot be split afterwards.
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, str(REPO))
sys.argv[0] = "DCGAN_train.py"  # the resume commands it prints name the script a user runs

import DCGAN_train  # noqa: E402
from utils import cli  # noqa: E402

cli.run(DCGAN_train.main)
