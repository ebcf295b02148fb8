"""Training configuration: one schema, YAML defaults, command-line overrides, validated once.

configs/fashion_mnist.yaml holds every key with its default value; any other config file
(and every --set key=value) overrides some of them. A session stores its fully resolved
config in checkpoints/training_N/config.yaml, and everything that reads the session
rebuilds the networks from that file.
"""
import difflib
from pathlib import Path

import yaml

from data.decode import background_rgb
from data.labels import check_class_counts
from models.policy import parse_policy
from models.shapes import SUPPORTED_SIZES
from utils.errors import UserError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "fashion_mnist.yaml"
DATASET_NAMES = ("fashion_mnist", "mnist")

# Keys that change the shape of a weight (class_names: the label embeddings), or (precision: the
# float16 loss-scale state) what a checkpoint holds: a restore may not change them.
ARCHITECTURE_KEYS = ("image_size", "channels", "noise_dim", "g_filters", "d_filters", "d_batchnorm",
                     "conditional", "class_names", "precision")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
# Keys whose default changed after they were added to sessions' config.yaml: a session stored before
# the key existed was trained with this value, not today's default (Adam's beta2 was Keras' 0.999).
VALUE_BEFORE_THE_KEY = {"beta2": 0.999, "precision": "float32"}
# Keys of earlier versions, read into today's: old sessions' config.yaml and old command lines.
RENAMED = {"mixed_precision": lambda on: {"precision": "mixed_float16" if _bool(on) else "float32"}}


def _int(lo=None, hi=None, allow_none=False):
    def check(value):
        if value is None and allow_none:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError("expected a whole number")
        value = int(value)  # raises ValueError for "abc"
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ValueError(f"expected a whole number in [{lo}, {hi if hi is not None else 'inf'}]")
        return value
    return check


def _float(lo, hi, lo_open=False, hi_open=False):
    def check(value):
        if isinstance(value, bool):
            raise ValueError("expected a number")
        value = float(value)  # YAML 1.1 reads "2e-4" as a string; float() accepts it
        if value != value or value < lo or value > hi or (lo_open and value == lo) or (hi_open and value == hi):
            left, right = "(" if lo_open else "[", ")" if hi_open else "]"
            raise ValueError(f"expected a number in {left}{lo}, {hi}{right}")
        return value
    return check


def _choice(*options):
    def check(value):
        if value not in options:
            raise ValueError(f"expected one of {', '.join(map(str, options))}")
        return value
    return check


def _bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError("expected true or false")


def _optional_path(value):
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("expected a folder path")
    return value


def _class_names(value):
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) < 2 or not all(isinstance(v, str) and v for v in value):
        raise ValueError("expected a list of at least two class names")
    if len(set(value)) != len(value):
        raise ValueError("class names must differ")
    return list(value)


def _policy(value):
    if not isinstance(value, str):
        raise ValueError("expected none, or color, translation, cutout joined by commas")
    return ",".join(parse_policy(value)) or "none"


def _probability_or_auto(value):
    return "auto" if value == "auto" else _float(0.0, 1.0)(value)


def _bool_or_auto(value):
    return "auto" if value == "auto" else _bool(value)


def _background(value):
    try:
        background_rgb(value)
    except (ValueError, TypeError):
        raise ValueError("expected a colour name (white, black, gray, ...) or #rrggbb") from None
    return str(value)


def _class_counts(value):
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                                       for v in value):
        raise ValueError("expected a list of whole numbers >= 0, one per class in label order (0: all of a class)")
    return list(value)


def _dataset(value):
    if value in DATASET_NAMES or value == "folder":
        return value
    raise ValueError(f"expected one of {', '.join(DATASET_NAMES)} or folder (with data_dir)")


SCHEMA = {  # in the order of configs/fashion_mnist.yaml
    "dataset": _dataset,
    "data_dir": _optional_path,
    "max_images": _int(0),
    "flip": _bool,
    "background": _background,
    "conditional": _bool,
    "holdout": _float(0.0, 1.0, hi_open=True),
    "class_counts": _class_counts,
    "fake_classes": _choice("data", "uniform"),
    "real_classes": _choice("data", "uniform"),
    "image_size": _choice(*SUPPORTED_SIZES),
    "channels": _choice(1, 3),
    "noise_dim": _int(1, 4096),
    "g_filters": _int(1, 4096),
    "d_filters": _int(1, 4096),
    "d_batchnorm": _bool,
    "class_names": _class_names,
    "precision": _choice("auto", *PRECISIONS),  # auto: chosen by the devices when a session starts
    "noise": _choice("normal", "uniform"),
    "d_dropout": _float(0.0, 1.0, hi_open=True),
    "init_std": _float(0.0, 1.0, lo_open=True),
    "batch_size": _int(1, 65536),
    "g_lr": _float(0.0, 1.0, lo_open=True),
    "d_lr": _float(0.0, 1.0, lo_open=True),
    "beta1": _float(0.0, 1.0, hi_open=True),
    "beta2": _float(0.0, 1.0, hi_open=True),
    "d_steps": _int(1, 10),
    "g_steps": _int(1, 10),
    "label_smoothing": _float(0.0, 1.0, lo_open=True),
    "ema_decay": _float(0.0, 1.0, hi_open=True),
    "ema_warmup": _bool,
    "augment": _policy,
    "augment_p": _probability_or_auto,
    "ada_target": _float(0.0, 1.0, lo_open=True, hi_open=True),
    "seed": _int(0, 2**31 - 1),
    "deterministic": _bool,
    "jit_compile": _bool,
    "sync_batchnorm": _bool_or_auto,
    "checkpoint_every": _int(1),
    "max_to_keep": _int(1, allow_none=True),
    "num_examples": _int(1, 256),
    "fid_every": _int(0),
    "fid_num": _int(2),
    "fid_weights": _optional_path,
    "cache_dir": _optional_path,
}


def read_yaml(path):
    path = Path(path)
    try:
        with open(path) as f:
            values = yaml.safe_load(f)
    except FileNotFoundError:
        raise UserError(f"Config file {path} does not exist. Pass an existing file to --config "
                        f"(the shipped ones are in {CONFIG_DIR}).") from None
    except yaml.YAMLError as e:
        raise UserError(f"Config file {path} is not valid YAML ({str(e).splitlines()[0]}). "
                        "Fix the file or pass another one to --config.") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise UserError(f"Config file {path} must be a mapping of key: value lines.")
    return values


def _upgrade(values, where):
    """A dict with renamed keys replaced by today's; a bad old value is refused by its old name."""
    values = dict(values)
    for old, convert in RENAMED.items():
        if old in values:
            try:
                values.update(convert(values.pop(old)))
            except ValueError as e:
                raise UserError(f"Bad value for config key '{old}' in {where}: ({e}).") from None
    return values


def _refuse_unknown(keys, where):
    for key in keys:
        if key not in SCHEMA:
            close = difflib.get_close_matches(str(key), SCHEMA, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise UserError(f"Unknown config key '{key}' in {where}.{hint} "
                            f"Known keys: {', '.join(SCHEMA)}.")


def parse_overrides(pairs):
    """['g_lr=1e-4', 'flip=true'] -> {'g_lr': 1e-4, 'flip': True} (values read as YAML)."""
    overrides = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--set expects key=value, got '{pair}' (for example --set g_lr=1e-4).")
        try:
            overrides[key] = yaml.safe_load(text)
        except yaml.YAMLError:
            overrides[key] = text
    overrides = _upgrade(overrides, "--set")
    _refuse_unknown(overrides, "--set")
    return overrides


def validate(cfg):
    """Check every key and value; return a new dict with normalised values."""
    cfg = _upgrade(cfg, "the config")
    _refuse_unknown(cfg, "the config")
    missing = [key for key in SCHEMA if key not in cfg]
    if missing:
        raise UserError(f"The config lacks the keys {', '.join(missing)}.")
    checked = {}
    for key, check in SCHEMA.items():
        try:
            checked[key] = check(cfg[key])
        except (ValueError, TypeError) as e:
            raise UserError(f"Bad value for config key '{key}': {cfg[key]!r} ({e}).") from None
    if checked["dataset"] == "folder" and not checked["data_dir"]:
        raise UserError("dataset 'folder' needs data_dir: pass --data PATH_TO_IMAGE_FOLDER.")
    if checked["class_counts"] and not checked["conditional"]:
        check_class_counts(checked["class_counts"], None)  # refuses: there are no classes to count
    if checked["real_classes"] == "uniform" and not checked["conditional"]:
        raise UserError("real_classes: uniform draws the real batches class by class, so it needs "
                        "conditional: true (a labelled set). Set conditional: true, or real_classes: data.")
    return checked


def merge(path=None, overrides=None, base=None):
    """Defaults (or a session's stored config as `base`), then the --config file, then --set;
    not yet validated, so that --data can still fill in the data keys."""
    cfg = dict(base) if base is not None else read_yaml(DEFAULT_CONFIG)
    if path is not None:
        values = _upgrade(read_yaml(path), str(path))
        _refuse_unknown(values, str(path))
        cfg.update(values)
    cfg.update(_upgrade(overrides or {}, "--set"))
    return cfg


def load_config(path=None, overrides=None, base=None):
    """merge(), validated."""
    return validate(merge(path, overrides, base))


def architecture_changes(stored, cfg):
    """The architecture keys whose values differ, as 'key: old -> new' strings."""
    return [f"{key}: {stored.get(key)} -> {cfg[key]}" for key in ARCHITECTURE_KEYS
            if stored.get(key) != cfg[key]]


def dump(cfg):
    return yaml.safe_dump(cfg, sort_keys=False)
