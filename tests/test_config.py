"""Config: defaults, overrides, refusals."""
import pytest
import yaml

from training import config
from utils.errors import UserError


def test_default_config_file_holds_exactly_the_schema():
    assert list(yaml.safe_load(config.DEFAULT_CONFIG.read_text())) == list(config.SCHEMA)


def test_defaults_are_the_dcgan_recipe():
    cfg = config.load_config()
    assert (cfg["image_size"], cfg["channels"], cfg["batch_size"]) == (28, 1, 64)
    assert (cfg["g_lr"], cfg["d_lr"], cfg["beta1"], cfg["label_smoothing"]) == (2e-4, 2e-4, 0.5, 0.9)
    assert cfg["jit_compile"] is False  # a GPU option, off by default
    assert cfg["precision"] == "auto"  # bfloat16 on CPUs that have it, float32 elsewhere (tests/test_scale.py)
    assert (cfg["conditional"], cfg["augment"], cfg["augment_p"], cfg["sync_batchnorm"]) == (False, "none", 1.0, "auto")


@pytest.mark.parametrize("key, value, message", [
    ("augment", "color,colour", "unknown augmentation 'colour'"),
    ("augment", "none,cutout", "augment"),
    ("augment_p", 1.5, "augment_p"),
    ("augment_p", "sometimes", "augment_p"),
    ("precision", "float16", "mixed_float16, mixed_bfloat16"),
    ("class_names", ["only"], "at least two class names"),
    ("holdout", 1.0, "holdout"),
    ("sync_batchnorm", "maybe", "sync_batchnorm"),
    ("d_steps", 0, "d_steps"),
    ("g_steps", 1.5, "g_steps"),
    ("ema_warmup", "slowly", "ema_warmup"),
])
def test_new_keys_are_refused_by_name(key, value, message):
    with pytest.raises(UserError, match=message):
        config.load_config(overrides={key: value})


def test_new_keys_accept_their_values():
    cfg = config.load_config(overrides={"augment": "translation, color", "augment_p": "auto", "precision":
                                        "mixed_bfloat16", "sync_batchnorm": "true", "conditional": "true"})
    assert (cfg["augment"], cfg["augment_p"], cfg["precision"], cfg["sync_batchnorm"], cfg["conditional"]) == \
        ("translation,color", "auto", "mixed_bfloat16", True, True)


def test_the_old_mixed_precision_flag_reads_as_float16(tmp_path):
    assert config.load_config(overrides=config.parse_overrides(["mixed_precision=true"]))["precision"] == \
        "mixed_float16"
    old_session = dict(config.load_config(), mixed_precision=False)
    del old_session["precision"]
    assert config.validate(old_session)["precision"] == "float32"


def test_shipped_configs_validate():
    for path in config.CONFIG_DIR.glob("*.yaml"):
        config.load_config(path, overrides={"data_dir": "somewhere"})


def test_set_overrides_parse_yaml_values():
    overrides = config.parse_overrides(["g_lr=1e-4", "flip=true", "max_to_keep=null"])
    cfg = config.load_config(overrides=overrides)
    assert cfg["g_lr"] == 1e-4 and cfg["flip"] is True and cfg["max_to_keep"] is None


@pytest.mark.parametrize("pair, message", [
    ("g_lrr=1", "Did you mean 'g_lr'"),
    ("g_lr", "key=value"),
])
def test_bad_overrides_are_refused(pair, message):
    with pytest.raises(UserError, match=message):
        config.parse_overrides([pair])


@pytest.mark.parametrize("key, value", [
    ("batch_size", 0), ("batch_size", 2.5), ("channels", 2), ("g_lr", -1), ("label_smoothing", 0),
    ("label_smoothing", 1.5), ("noise", "gaussian"), ("flip", "yes"), ("dataset", "cifar"), ("beta1", 1.0),
])
def test_bad_values_are_refused(key, value):
    with pytest.raises(UserError, match=key):
        config.load_config(overrides={key: value})


def test_folder_dataset_needs_a_folder():
    with pytest.raises(UserError, match="data_dir"):
        config.load_config(overrides={"dataset": "folder"})


def test_bad_config_files(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        config.load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("g_lr: [1,\n")
    with pytest.raises(UserError, match="not valid YAML"):
        config.load_config(broken)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("epochs: 3\n")
    with pytest.raises(UserError, match="Unknown config key 'epochs'"):
        config.load_config(unknown)


def test_architecture_changes_names_the_keys():
    stored = config.load_config()
    changed = config.load_config(overrides={"noise_dim": 64, "g_lr": 1e-3})
    assert config.architecture_changes(stored, changed) == ["noise_dim: 100 -> 64"]
