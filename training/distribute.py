"""tf.distribute strategies by name, which process of a cluster writes the session, and the
precision the devices compute fastest in."""
import json
import os
from pathlib import Path

from utils.errors import UserError


def make_strategy(name):
    """tf.distribute strategy by name; create it before any other TensorFlow work."""
    import tensorflow as tf
    if name == "mirrored":  # every local GPU (or the one CPU); the global batch is split over them
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        _check_tf_config(os.environ.get("TF_CONFIG"))
        # Every local GPU of every worker; each worker blocks here until all have started.
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _check_tf_config(text):
    example = ('TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
               '"task": {"type": "worker", "index": 0}}\'')
    if not text:
        raise UserError("--strategy multiworker needs the TF_CONFIG environment variable, which lists every "
                        f"worker and says which one this is, e.g. {example} (index 1 on the second machine).")
    try:
        tf_config = json.loads(text)
        workers = tf_config["cluster"]["worker"]
        task = tf_config["task"]
        valid = isinstance(workers, list) and task["type"] in tf_config["cluster"] and \
            0 <= int(task["index"]) < len(tf_config["cluster"][task["type"]])
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        raise UserError(f"TF_CONFIG is not a valid cluster description: {text[:200]!r}. Expected the form "
                        f"{example}, the task's type listed in the cluster and its index within that list.")


def is_chief(strategy):
    """True for the one process that writes the session folder: the only process, or the
    multi-worker cluster's chief (the "chief" task, else worker 0)."""
    if not _in_cluster(strategy):
        return True
    resolver = strategy.cluster_resolver
    if "chief" in resolver.cluster_spec().jobs:
        return resolver.task_type == "chief"
    return resolver.task_type == "worker" and resolver.task_id == 0


def _in_cluster(strategy):
    resolver = strategy.cluster_resolver
    return resolver is not None and bool(resolver.cluster_spec().as_dict())


def chief_task(name, tf_config_text=None):
    """is_chief() read from TF_CONFIG before the strategy exists (a multi-worker strategy waits
    for every worker to start), so the chief can take the session's lock first."""
    if name != "multiworker":
        return True
    text = tf_config_text if tf_config_text is not None else os.environ.get("TF_CONFIG")
    _check_tf_config(text)
    tf_config = json.loads(text)
    task = tf_config["task"]
    if "chief" in tf_config["cluster"]:
        return task["type"] == "chief"
    return task["type"] == "worker" and int(task["index"]) == 0


# CPU instructions that compute bfloat16 products natively (Intel Cooper Lake and later, AMD Zen 4
# and later). Without them bfloat16 is converted in software, and float32 is the safe choice.
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def bfloat16_cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU's bfloat16 instructions listed in Linux's cpuinfo; none where there is no such file."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return []
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return [flag for flag in BFLOAT16_CPU_FLAGS if flag in flags]


def choose_precision(strategy, cpuinfo="/proc/cpuinfo"):
    """(precision, why) for `precision: auto`: mixed_bfloat16 when one process trains on a CPU with
    bfloat16 instructions (measured faster than float32 there, at the same quality), float32 otherwise."""
    if _in_cluster(strategy):
        return "float32", "a multi-worker cluster, whose machines' CPUs may differ"
    import tensorflow as tf
    if tf.config.list_logical_devices("GPU"):
        return "float32", "training on GPUs (set mixed_float16 or mixed_bfloat16 to use their half-precision units)"
    flags = bfloat16_cpu_flags(cpuinfo)
    if flags:
        return "mixed_bfloat16", f"the CPU has {flags[0].upper()}"
    return "float32", "the CPU has no bfloat16 instructions (AVX512_BF16 or AMX)"
