"""Colour image folders decoded as the networks should see them: transparency over a background,
EXIF orientation applied, colour profiles to sRGB, old cache entries decoded again, reals.png,
and the emoji benchmark set's class-folder layout."""
import json
import sys

import numpy as np
import pytest
from PIL import Image, ImageCms

from conftest import REPO, train_session
from data import cache, datasets, decode

sys.path.insert(0, str(REPO / "bench"))
import emoji_set  # noqa: E402

LOUD = (255, 0, 255)  # magenta: what a file may store under its transparent pixels


def _loud(pixels):
    """Pixels close to LOUD anywhere in an (..., 3) uint8 array."""
    return int(((pixels[..., 0] > 200) & (pixels[..., 1] < 60) & (pixels[..., 2] > 200)).sum())


def _transparent_files(folder):
    """An RGBA, an LA and a palette PNG whose transparent half stores a loud colour, the other half
    opaque dark gray."""
    folder.mkdir(parents=True, exist_ok=True)
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[:, :16] = (*LOUD, 0)
    rgba[:, 16:] = (40, 40, 40, 255)
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    la = np.zeros((32, 32, 2), np.uint8)
    la[:, :16] = (250, 0)  # near-white under transparency would hide a black background's defect
    la[:, 16:] = (40, 255)
    Image.fromarray(la, "LA").save(folder / "la.png")
    palette = Image.new("P", (32, 32), 0)
    palette.putpalette([*LOUD, 40, 40, 40] + [0] * 762)
    palette.paste(1, (16, 0, 32, 32))
    palette.save(folder / "palette.png", transparency=0)
    return folder


@pytest.mark.parametrize("name", ["rgba.png", "la.png", "palette.png"])
@pytest.mark.parametrize("background, expected", [("white", 255), ("black", 0)])
def test_transparent_pixels_become_the_background_not_the_stored_colour(tmp_path, name, background, expected):
    path = _transparent_files(tmp_path) / name
    pixels = decode.decode_image(path, 32, 3, decode.background_rgb(background))
    assert _loud(pixels) == 0
    np.testing.assert_array_equal(pixels[:, :14], expected)  # the transparent half (resizing blurs the edge)
    np.testing.assert_array_equal(pixels[:, 18:], 40)  # the opaque half as stored


def test_a_folder_of_transparent_images_trains_on_clean_pixels(tmp_path):
    loaded = datasets.load_folder(_transparent_files(tmp_path / "images"), 32, 3, cache_dir=tmp_path / "cache")
    assert len(loaded.images) == 3 and _loud(np.asarray(loaded.images)) == 0


def test_the_background_is_a_validated_config_key():
    from training import config
    from utils.errors import UserError
    assert config.load_config()["background"] == "white"
    assert config.load_config(overrides={"background": "#102030"})["background"] == "#102030"
    with pytest.raises(UserError, match="background.*colour name"):
        config.load_config(overrides={"background": "transparent-ish"})


def test_a_photo_with_an_exif_rotation_comes_out_upright(tmp_path):
    # Stored 40 wide and 20 high, left half black; orientation 6 says "turn 90 degrees clockwise to
    # view", so upright it is 20 wide and 40 high with the black half on top.
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, 20:] = 255
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = 6
    image.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    pixels = decode.decode_image(tmp_path / "phone.jpg", 16, 3).astype(int)
    assert pixels[:6].mean() < 30 and pixels[-6:].mean() > 225  # dark top, bright bottom
    assert abs(pixels[:, :6].mean() - pixels[:, -6:].mean()) < 10  # not dark left, bright right


def test_an_srgb_profile_changes_nothing_and_a_broken_one_is_ignored(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(pixels).save(tmp_path / "srgb.png", icc_profile=srgb)
    Image.fromarray(pixels).save(tmp_path / "broken.png", icc_profile=b"not a profile")
    Image.fromarray(pixels).save(tmp_path / "plain.png")
    plain = decode.decode_image(tmp_path / "plain.png", 16, 3).astype(int)
    assert np.abs(decode.decode_image(tmp_path / "srgb.png", 16, 3).astype(int) - plain).max() <= 1
    np.testing.assert_array_equal(decode.decode_image(tmp_path / "broken.png", 16, 3), plain)


def test_cache_entries_decoded_under_the_old_rules_are_decoded_again(tmp_path, monkeypatch):
    folder = _transparent_files(tmp_path / "images")
    entries = tmp_path / "cache" / "images"
    candidates, _ = decode.scan_folder(folder)
    # What an entry written before compositing holds: the loud colour where pixels were transparent.
    monkeypatch.setattr(cache, "FORMAT", 1)
    old_key = cache.folder_key(folder, candidates, 32, 3)
    smeared = np.zeros((32, 32, 3), np.uint8) + np.array(LOUD, np.uint8)
    cache.build(entries, old_key, [(path, (smeared, None)) for path in candidates], 32, 3)
    monkeypatch.undo()
    assert cache.load(entries, old_key) is not None  # the old entry is there ...
    loaded = datasets.load_folder(folder, 32, 3, cache_dir=tmp_path / "cache")
    assert _loud(np.asarray(loaded.images)) == 0  # ... and not used
    assert cache.folder_key(folder, candidates, 32, 3) != cache.folder_key(folder, candidates, 32, 3, background=(0, 0, 0))


@pytest.mark.slow
def test_the_first_run_writes_reals_as_the_networks_see_them_a_row_per_class(tmp_path):
    data = tmp_path / "images"
    for index, name in enumerate(["cats", "dogs"]):
        _transparent_files(data / name)
        Image.fromarray(np.full((32, 32, 3), 60 + 100 * index, np.uint8)).save(data / name / "plain.png")
    train_session(tmp_path / "ck", 1, 1, data, "--set", "channels=3", "--set", "image_size=32",
                  "--set", "conditional=true", "--set", "batch_size=4")
    reals_path = tmp_path / "ck" / "training_1" / "reals.png"
    reals = np.asarray(Image.open(reals_path).convert("RGB"))
    assert _loud(reals) == 0
    # two rows of 64-pixel tiles (32 enlarged twice) with the class names in a margin on the left
    assert reals.shape[0] == 2 * (64 + 4) + 4
    first = reals_path.read_bytes()
    train_session(tmp_path / "ck", 1, 2, data, "-r", "1")
    assert reals_path.read_bytes() == first  # a resume leaves it alone


def test_emoji_categories_become_class_folders_with_their_skin_tone_variants(tmp_path):
    package = tmp_path / "package"
    images = package / "img" / "apple" / "64"
    images.mkdir(parents=True)
    entries = [
        {"image": "1f600.png", "category": "Smileys & Emotion", "has_img_apple": True},
        {"image": "1f44b.png", "category": "People & Body", "has_img_apple": True,
         "skin_variations": {"1F3FB": {"image": "1f44b-1f3fb.png", "has_img_apple": True},
                             "1F3FC": {"image": "1f44b-1f3fc.png", "has_img_apple": False}}},
        {"image": "1f3fb.png", "category": "Component", "has_img_apple": True},
        {"image": "1f34e.png", "category": "Food & Drink", "has_img_apple": True},  # named but not shipped
    ]
    (package / "emoji.json").write_text(json.dumps(entries))
    for name in ["1f600.png", "1f44b.png", "1f44b-1f3fb.png", "1f44b-1f3fc.png", "1f3fb.png"]:
        Image.new("RGBA", (64, 64), (*LOUD, 0)).save(images / name)
    counts = emoji_set.lay_out(package, tmp_path / "out", "apple")
    assert dict(counts) == {"Smileys_and_Emotion": 1, "People_and_Body": 2}
    assert sorted(p.name for p in (tmp_path / "out" / "People_and_Body").iterdir()) == ["1f44b-1f3fb.png",
                                                                                           "1f44b.png"]
    copied = Image.open(tmp_path / "out" / "Smileys_and_Emotion" / "1f600.png")
    assert copied.mode == "RGBA"  # kept as it is: the loader composites, not the layout step
    loaded = datasets.load_folder(tmp_path / "out", 64, 3, conditional=True, cache_dir=tmp_path / "cache")
    assert loaded.class_names == ["People_and_Body", "Smileys_and_Emotion"]
