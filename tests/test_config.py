"""Config: defaults, overrides, refusals."""
import pytest
import yaml

from training import config
from utils.errors import UserError


def test_default_config_file_holds_exactly_the_schema():
    assert list(yaml.safe_load(config.DEFAULT_CONFIG.read_text())) == list(config.SCHEMA)


def test_defaults_are_the_dcgan_recipe():
    cfg = config.load_config()
    assert (cfg["image_size"], cfg["channels"], cfg["batch_size"]) == (28, 1, 128)
    assert (cfg["g_lr"], cfg["d_lr"], cfg["beta1"], cfg["label_smoothing"]) == (2e-4, 2e-4, 0.5, 0.9)
    assert (cfg["mixed_precision"], cfg["jit_compile"]) == (False, False)  # GPU options, off by default


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
