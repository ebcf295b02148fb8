"""A messy folder: every file is checked once; usable ones are used, the rest listed with the reason."""
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import TINY, run_script, snapshot
from data import datasets, decode
from utils.errors import UserError

RNG = np.random.default_rng(0)


def _image_bytes(array, fmt, mode=None, **kwargs):
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture
def messy_folder(tmp_path):
    folder = tmp_path / "messy"
    folder.mkdir()
    pixels = RNG.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    good = {
        "good.jpg": _image_bytes(pixels, "JPEG"),
        "png_named.jpg": _image_bytes(pixels, "PNG"),
        "sixteen_bit.png": _image_bytes(np.full((24, 24), 65535, np.uint16), "PNG"),
        "cmyk.jpg": _image_bytes(pixels, "JPEG"),  # replaced below by a real CMYK file
    }
    bad = {
        "empty.jpg": b"",
        "text.jpg": b"this is not an image\n",
        "truncated.jpg": _image_bytes(pixels, "JPEG")[:300],
        "truncated.png": _image_bytes(pixels, "PNG")[:200],
        "tiny.png": _image_bytes(np.zeros((1, 1, 3), np.uint8), "PNG"),
        ".hidden.png": _image_bytes(pixels, "PNG"),
        "notes.txt": b"labels go here\n",
    }
    for name, content in {**good, **bad}.items():
        (folder / name).write_bytes(content)
    Image.fromarray(pixels).convert("CMYK").save(folder / "cmyk.jpg", "JPEG")
    frames = [Image.fromarray(np.full((24, 24, 3), v, np.uint8)) for v in (10, 240)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100)
    return folder, set(good) | {"animated.gif"}, set(bad)


def test_usable_files_are_used_and_the_rest_listed_with_a_reason(messy_folder):
    folder, good, bad = messy_folder
    loaded = datasets.load_folder(folder, 28, 3)
    assert len(loaded.images) == len(good)
    assert {Path(path).name for path, _ in loaded.skipped} == bad
    assert all(reason for _, reason in loaded.skipped)
    reasons = {Path(path).name: reason for path, reason in loaded.skipped}
    assert "too small" in reasons["tiny.png"] and reasons[".hidden.png"] == "hidden file"


def test_sixteen_bit_png_is_scaled_not_clipped(messy_folder):
    folder, _, _ = messy_folder
    assert decode.decode_image(folder / "sixteen_bit.png", 28, 1).min() == 255
    half = folder / "half.png"
    Image.fromarray(np.full((24, 24), 32896, np.uint16)).save(half)
    assert decode.decode_image(half, 28, 1).max() == 128


def test_animated_gif_uses_its_first_frame(messy_folder):
    folder, _, _ = messy_folder
    assert decode.decode_image(folder / "animated.gif", 28, 1).max() < 30


def test_strict_turns_bad_files_into_an_error(messy_folder):
    folder, _, _ = messy_folder
    with pytest.raises(UserError, match="--strict") as error:
        datasets.load_folder(folder, 28, 3, strict=True)
    assert "truncated.jpg" in str(error.value)


def test_empty_and_unusable_folders_are_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="No usable image"):
        datasets.load_folder(tmp_path / "empty", 28, 1)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.jpg").write_bytes(b"junk")
    with pytest.raises(UserError, match="1 files skipped"):
        datasets.load_folder(tmp_path / "junk", 28, 1)


@pytest.mark.slow  # a whole training run
def test_training_on_a_messy_folder_reports_and_finishes(messy_folder, tmp_path):
    folder, good, bad = messy_folder
    result = run_script("DCGAN_train.py", "--checkpoint-root", tmp_path / "ck", 1, 1, "--data", folder, *TINY)
    assert result.returncode == 0, result.stderr
    assert f"Skipped {len(bad)} files" in result.stdout and "truncated.png" in result.stdout
    assert f"Session 1: {len(good)} images" in result.stdout

    before = snapshot(tmp_path / "ck")
    strict = run_script("DCGAN_train.py", "--checkpoint-root", tmp_path / "ck", 2, 1, "--data", folder, "--strict",
                        *TINY)
    assert strict.returncode == 2 and "error:" in strict.stderr and "Traceback" not in strict.stderr
    assert snapshot(tmp_path / "ck") == before
