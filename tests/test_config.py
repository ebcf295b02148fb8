"""Config: defaults, overrides, refusals."""
import pytest
import yaml

from training import config
from utils.errors import UserError


def test_default_config_file_holds_exactly_the_schema():
    assert list(yaml.safe_load(config.DEFAULT_CONFIG.read_text())) == list(config.SCHEMA)


def test_the_default_config_restates_the_lower_layers_defaults_unchanged():
    """The YAML holds every key, so it restates defaults that a lower layer defines for its own
    callers: ADA's target (models.augment) and the colour transparency becomes (data.decode)."""
    from data.decode import DEFAULT_BACKGROUND, background_rgb
    from models.augment import ADA_TARGET
    defaults = config.read_yaml(config.DEFAULT_CONFIG)
    assert defaults["ada_target"] == ADA_TARGET
    assert background_rgb(defaults["background"]) == DEFAULT_BACKGROUND


@pytest.mark.parametrize("path", [None, *sorted(config.CONFIG_DIR.glob("*.yaml"))], ids=lambda p: getattr(p, "name", "defaults"))
def test_every_shipped_config_trains_a_dcgan_with_one_sided_label_smoothing(path, tmp_path):
    """What may not change by measurement: 5x5 stride-2 convolutions with batchnorm in both networks,
    real targets smoothed below 1 (one-sided). Widths, batch size and rates may change by measurement."""
    import models
    cfg = config.load_config(path, overrides={"data_dir": str(tmp_path)})  # a folder config needs one
    assert 0.0 < cfg["label_smoothing"] < 1.0 and cfg["d_batchnorm"] is True
    assert cfg["jit_compile"] is False and cfg["precision"] == "auto"  # options for other hardware stay opt-in
    cfg = dict(cfg, precision="float32")  # auto is resolved when a session starts
    for network in (models.build_generator(cfg), models.build_discriminator(cfg)):
        convolutions = [layer for layer in network.layers if "conv" in type(layer).__name__.lower()]
        assert convolutions and all(layer.kernel_size == (5, 5) and layer.strides == (2, 2) for layer in convolutions)
        assert any(type(layer).__name__ == "BatchNormalization" for layer in network.layers)


def test_the_64x64_folder_config_trains_the_narrow_networks_measured_best_on_a_cpu(tmp_path):
    """configs/image_folder_64.yaml is what a CPU user trains a colour folder with: the widths that
    won the colour-recipe comparison at equal CPU time (bench/README.md), a generator from 4x4x256
    to 64x64x3 and a discriminator from 32 to 256 filters, batches of 32, with adaptive augmentation
    for small sets."""
    import models
    cfg = config.load_config(config.CONFIG_DIR / "image_folder_64.yaml", overrides={"data_dir": str(tmp_path)})
    cfg = dict(cfg, precision="float32")
    generator, discriminator = models.build_generator(cfg), models.build_discriminator(cfg)

    def widths(network):
        return [layer.filters for layer in network.layers if hasattr(layer, "filters")]

    assert generator.get_layer(index=3).target_shape == (4, 4, 256)
    assert widths(generator) == [128, 64, 32, 3] and generator.output_shape == (None, 64, 64, 3)
    assert widths(discriminator) == [32, 64, 128, 256]
    assert (cfg["augment"], cfg["augment_p"], cfg["batch_size"]) == ("color,translation,cutout", "auto", 32)


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
    ("real_classes", "balanced", "real_classes"),
])
def test_new_keys_are_refused_by_name(key, value, message):
    with pytest.raises(UserError, match=message):
        config.load_config(overrides={key: value})


def test_new_keys_accept_their_values():
    cfg = config.load_config(overrides={"augment": "translation, color", "augment_p": "auto", "precision":
                                        "mixed_bfloat16", "sync_batchnorm": "true", "conditional": "true",
                                        "real_classes": "uniform"})
    assert (cfg["augment"], cfg["augment_p"], cfg["precision"], cfg["sync_batchnorm"], cfg["conditional"],
            cfg["real_classes"]) == ("translation,color", "auto", "mixed_bfloat16", True, True, "uniform")


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
