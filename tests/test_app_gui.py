"""app.py on a virtual X display (Xvfb, started here): the window runs the real scripts on a tiny
session through its buttons' handlers, and --screenshot saves what it draws.

Xvfb comes from Debian's xvfb package (make test installs it)."""
import os
import shutil
import subprocess
import sys
import time
import tkinter as tk

import numpy as np
import pytest
from PIL import Image

import app as app_module
from conftest import REPO

pytestmark = pytest.mark.slow  # drives the app's window over a trained session


@pytest.fixture(scope="module")
def display():
    """A fresh Xvfb on a display number it picks itself (-displayfd), stopped at the end."""
    assert shutil.which("Xvfb"), "Xvfb is missing: install Debian's xvfb package (apt-get install xvfb)"
    server = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    number = server.stdout.readline().strip()  # written once the server accepts clients
    assert number.isdigit(), "Xvfb did not start"
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def root(gray_session, tmp_path_factory):
    """A copy of the tiny session's checkpoint root: these tests add checkpoints and images to it."""
    copy = tmp_path_factory.mktemp("app") / "ckpts"
    shutil.copytree(gray_session[0], copy)
    return copy


@pytest.fixture(scope="module")
def screenshot(display, root, tmp_path_factory):
    """app.py --screenshot, started first: it loads TensorFlow while the other tests run."""
    path = tmp_path_factory.mktemp("shot") / "app.png"
    process = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--checkpoint-root", str(root), "--session", "1",
                                "--screenshot", str(path)], cwd=REPO, env=dict(os.environ, DISPLAY=display),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield process, path
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture
def window(display, root, screenshot):
    """The app in this process on the virtual display, with error dialogs recorded, not shown."""
    tk_root = tk.Tk(screenName=display)
    app = app_module.App(tk_root, root)
    app.errors = []
    app.show_error = lambda message, title="": app.errors.append(message)
    app.select(1)
    yield app
    for job in app.jobs.values():
        job.process.kill()
    tk_root.destroy()


def wait_for(app, done, timeout=150):
    """Run the Tk event loop until done() holds."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out; log: {app.log.get('1.0', 'end')}"
        app.root.update()
        time.sleep(0.05)


def test_resume_generate_and_stop_run_the_scripts_and_show_their_results(window, root):
    session = root / "training_1"
    statuses = []
    window.progress_text.trace_add("write", lambda *_: statuses.append(window.progress_text.get()))
    assert window.shown["output"] == session / "images" / "epoch_0002.png"  # no generated grid yet
    outputs = []  # everything the output panel showed, in order

    def recording_show(panel, source, box=app_module.GRID_BOX, show=window.show):
        outputs.extend([source] if panel == "output" else [])
        show(panel, source, box)
    window.show = recording_show

    window.fields["epochs"].set("50")
    window.resume()
    # Generation runs beside the training, from the epoch-2 checkpoint the training does not touch.
    window.gen["num"].set("5")
    window.gen["seed"].set("3")
    window.gen["epoch"].set("2")
    window.generate()
    assert set(window.jobs) == {"train", "tool"} and window.errors == []

    wait_for(window, lambda: any(s.startswith("Epoch 3/50 done") for s in statuses))
    window.stop()  # SIGTERM: the script finishes the step, saves the last completed epoch, exits 143
    wait_for(window, lambda: not window.jobs)
    assert window.errors == []
    assert sorted(p.name for p in (session / "generated").iterdir()) == [f"img_{i:06d}.png" for i in range(1, 6)]
    assert session / "grid.png" in outputs and (session / "grid.png").is_file()
    assert session / "images" / "epoch_0003.png" in outputs

    # The real script's lines became status lines: 8 images in batches of 4 are 2 steps an epoch.
    assert any(s.startswith("Epoch 3/50, step 2/2") for s in statuses), statuses
    assert any(s.startswith("Epoch 3/50 done in") and "saved checkpoint 3" in s for s in statuses), statuses
    newest = window.summaries[1].newest
    assert 3 <= newest < 50
    assert statuses[-1] == ("Stopped; the completed epochs are saved. To continue: "
                            f"python DCGAN_train.py --checkpoint-root {root} -r {newest} 1 50")
    assert newest / 50 <= window.bar["value"] <= (newest + 1) / 50  # the stop may come within the next epoch
    # The newest epoch grid as it appeared (it replaced the generated grid), and in the review slider.
    assert window.shown["output"] == session / "images" / f"epoch_{newest:04d}.png"
    assert window.panels["output"].image.width() > 100
    assert window.grids[-1].name == f"epoch_{newest:04d}.png" and window.slider.cget("to") == newest
    assert window.summaries[1].row()[3:5] == (newest, newest)


def test_bad_field_is_refused_in_the_window_before_anything_starts(window, root):
    window.fields["g_lr"].set("2")
    window.train()
    assert window.jobs == {}
    assert window.errors == ["Bad value for config key 'g_lr': 2 (expected a number in (0.0, 1.0])."]
    assert not (root / "training_2").exists()


def test_fid_button_shows_the_number_or_the_scripts_error(window, tmp_path):
    fake = tmp_path / "compute_fid.py"
    fake.write_text("print('Features: stand-in.')\nprint('FID: 12.3')\n")
    window.scripts_dir = tmp_path
    window.compute_fid()
    wait_for(window, lambda: "tool" not in window.jobs)
    assert (window.fid_text.get(), window.errors) == ("FID: 12.3", [])

    fake.write_text("import sys\nprint('error: The InceptionV3 weights cannot be downloaded: no network.', "
                    "file=sys.stderr)\nsys.exit(2)\n")
    window.compute_fid()
    wait_for(window, lambda: "tool" not in window.jobs)
    assert window.fid_text.get() == "FID: failed"
    assert window.errors == ["The InceptionV3 weights cannot be downloaded: no network."]


def test_a_conditional_session_picks_its_class_and_saves_a_folder_per_class(display, conditional_session, tmp_path,
                                                                           monkeypatch):
    root = tmp_path / "ckpts"
    shutil.copytree(conditional_session[0], root)
    number = conditional_session[1]
    tk_root, window = tk.Tk(screenName=display), None
    try:
        window = app_module.App(tk_root, root)
        window.errors = []
        window.show_error = lambda message, title="": window.errors.append(message)
        window.select(number)
        assert window.tree.item(str(number))["values"][5] == 10  # the Classes column
        assert window.class_box.cget("values")[:2] == ("all classes", "T-shirt/top")
        assert window.gen["class"].get() == "all classes"
        assert str(window.entries["class_name"].cget("state")) == "disabled"
        window.gen["num"].set("2")
        window.gen["class"].set("Bag")
        monkeypatch.setattr(app_module.filedialog, "askdirectory", lambda **_: str(tmp_path / "synthetic"))
        window.save_to_folder()
        wait_for(window, lambda: not window.jobs)
        assert window.errors == []
        assert sorted(p.name for p in (tmp_path / "synthetic").iterdir()) == ["Bag"]
        assert sorted(p.name for p in (tmp_path / "synthetic" / "Bag").iterdir()) == ["img_000001.png", "img_000002.png"]
    finally:
        for job in window.jobs.values() if window else ():
            job.process.kill()
        tk_root.destroy()


def test_screenshot_saves_the_drawn_window(screenshot):
    process, path = screenshot
    stdout, stderr = process.communicate(timeout=150)
    assert process.returncode == 0, stderr
    width, height = app_module.WINDOW_SIZE
    assert stdout.strip() == f"Saved a {width}x{height} screenshot of the window to {path}"
    pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert pixels.shape == (height, width, 3)
    # Not blank: the loss plot is drawn, with matplotlib's blue and orange lines in it (thin, with
    # three panels shrunk into the window's box; a blank window has none of either colour).
    for colour in ((31, 119, 180), (255, 127, 14)):
        assert (np.abs(pixels - colour).sum(axis=-1) < 40).sum() > 5, f"no pixels near {colour}"
