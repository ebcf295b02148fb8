"""Offline sample quality for Fashion-MNIST sessions, scored by a small Fashion-MNIST classifier.

FID needs InceptionV3's ImageNet weights, which this machine cannot download, and on 28x28
grayscale garments a domain classifier is the sharper judge anyway (the usual practice for
MNIST-like GANs). For N generated images it reports

    score    exp(E_x KL(p(y|x) || p(y))), the Inception Score with the classifier: 1..10
    classes  exp(H(p(y))), the effective number of garment kinds generated: 1..10
    confident  the share of images the classifier gives one class >= 0.9
    fd       Frechet distance of the classifier's penultimate features to the test set

and the same for N real test images, the ceiling to compare with. The classifier is trained
once (about a minute) and cached under the cache root.

    python bench/quality.py CHECKPOINT_ROOT SESSION [EPOCH ...]
"""
import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

CLASSES = 10
SEED = 0


def _fashion_mnist(kind):
    """(images (N, 28, 28, 1) uint8, labels (N,)) of the Debian / Keras IDX files."""
    from data.idx import load_idx
    images, labels, _ = load_idx("fashion_mnist", split="test" if kind == "t10k" else "train", labelled=True)
    return images[..., None], labels


def _build_classifier():
    import keras
    from keras import layers
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Rescaling(1 / 127.5, offset=-1),  # uint8 -> [-1, 1], the generator's range
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dropout(0.3),
        layers.Dense(128, activation="relu", name="features"),
        layers.Dense(CLASSES, activation="softmax"),
    ], name="fashion_classifier")


def classifier(cache_dir=None):
    """The trained classifier, from the cache or trained now (3 epochs, ~91% test accuracy)."""
    import keras
    from data.datasets import cache_root
    path = cache_root(cache_dir) / "quality" / "fashion_classifier.weights.h5"
    model = _build_classifier()
    if path.is_file():
        model.load_weights(path)
        return model
    keras.utils.set_random_seed(SEED)
    images, labels = training_set()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images.astype(np.float32), labels, batch_size=128, epochs=3, verbose=2)
    test_images, test_labels = _fashion_mnist("t10k")
    _, accuracy = model.evaluate(test_images.astype(np.float32), test_labels, verbose=0)
    print(f"classifier test accuracy {accuracy:.3f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(path)
    return model


def training_set():
    """Fashion-MNIST's training images (N, 28, 28, 1) uint8 and labels."""
    return _fashion_mnist("train")


def classifier_input(images):
    """(N, 28, 28, 1) float32 images for the classifier. Samples of a larger RGB stand-in set
    (Fashion-MNIST enlarged for the 64x64 folder config) are averaged over their channels and
    shrunk back by area averaging."""
    import tensorflow as tf
    images = images.astype(np.float32)
    if images.shape[1:] != (28, 28, 1):
        images = tf.image.resize(images.mean(axis=-1, keepdims=True), (28, 28), method="area").numpy()
    return images


def scores(model, images, reference_features=None):
    """Quality numbers of (N, H, W, C) uint8 images (see classifier_input); fd needs the test set's features."""
    import keras
    from metrics import fid
    features_model = keras.Model(model.inputs, [model.get_layer("features").output, model.outputs[0]])
    features, probs = features_model.predict(classifier_input(images), batch_size=500, verbose=0)
    probs = np.clip(probs.astype(np.float64), 1e-12, 1.0)
    marginal = probs.mean(axis=0)
    kl = (probs * (np.log(probs) - np.log(marginal))).sum(axis=1)
    result = {"score": float(np.exp(kl.mean())),
              "classes": float(np.exp(-(marginal * np.log(marginal)).sum())),
              "confident": float((probs.max(axis=1) >= 0.9).mean())}
    if reference_features is not None:
        real, fake = fid.statistics(reference_features), fid.statistics(features)
        result["fd"] = fid.fid_of_stats(real, fake)
    return result, features


def held_out_set():
    """Fashion-MNIST's t10k images (N, 28, 28, 1) uint8 and labels: what the generators never saw."""
    return _fashion_mnist("t10k")


def reference(model, count):
    """(scores of `count` real test images, the features of the whole test set)."""
    test_images, _ = held_out_set()
    _, test_features = scores(model, test_images)
    real_scores, _ = scores(model, test_images[:count], test_features)
    return real_scores, test_features


def intra_class_fd(features, labels, test_features):
    """The mean over classes of the feature distance between one class's generated images and the
    real test images of that class (Miyato & Koyama's intra-FID, in the classifier's features): a
    generator that draws one good image per class scores well overall on score and agreement, and
    badly here."""
    from metrics import fid
    _, test_labels = held_out_set()
    return float(np.mean([fid.fid_of_stats(fid.statistics(test_features[test_labels == c]),
                                           fid.statistics(features[labels == c])) for c in np.unique(labels)]))


def session_samples(state, count, seed=SEED, raw=False):
    """(count uint8 images of a loaded session's averaged generator, or the raw one with raw, and
    the class asked for of each: every class equally often; None for an unconditional session)."""
    from metrics.sources import generated_batches
    labels = np.arange(count, dtype=np.int32) % len(state.class_names) if state.class_names else None
    generator = state.generator if raw else state.ema_generator
    return np.concatenate(list(generated_batches(generator, state.cfg, count, seed, 500, labels))), labels


def session_scores(model, root, session, epoch, count, test_features, seed=SEED, raw=True):
    """Scores of `count` images of a session's averaged generator (and, with raw, of the raw one
    as raw_...). A conditional session draws every class equally often, and adds `agreement`: the
    share of images the classifier puts in the class they were asked for, and agree_<class> per class."""
    from training import state as session_state
    state, epoch = session_state.load_session(root, session, epoch)
    result = {}
    for name in ("", "raw_")[:2 if raw else 1]:
        images, labels = session_samples(state, count, seed, raw=bool(name))
        values, features = scores(model, images, test_features)
        result.update({name + k: v for k, v in values.items()})
        if labels is not None:
            predicted = model.predict(classifier_input(images), batch_size=500, verbose=0).argmax(axis=1)
            result[name + "agreement"] = float((predicted == labels).mean())
            result[name + "intra_fd"] = intra_class_fd(features, labels, test_features)
            if not name:
                for index, class_name in enumerate(state.class_names):
                    key = "agree_" + "".join(c for c in class_name if c.isalnum())
                    result[key] = float((predicted[labels == index] == index).mean())
    return result


def small_set_scores(model, images, training_images, test_features):
    """scores() of (N, H, W, C) uint8 images, plus what a small training set puts at stake:
    copies_pixels and copies_features, the share of the images closer to one of training_images
    than those are to each other (in pixels, and in the classifier's features: metrics.copies),
    and improved precision, recall and coverage against the first N test images' features
    (metrics.prdc). A discriminator that memorises its set can teach the generator to hand the set
    back, which fd against unseen images does not punish. Unseen real images score a copy share
    near 0.5, the reference to read generated images against."""
    from metrics import copies, prdc
    result, features = scores(model, images, test_features)
    _, training_features = scores(model, training_images)
    flat = [x.reshape(len(x), -1) for x in (images, training_images)]
    result["copies_pixels"] = copies.copy_report(*flat).share
    result["copies_features"] = copies.copy_report(features, training_features).share
    coverage = prdc.prdc(test_features[:len(images)], features)
    result.update({name: float(getattr(coverage, name)) for name in ("precision", "recall", "coverage")})
    return result


def report(name, **values):
    """One benchmark line: `NAME key=value ...` (bench.py prints its lines with this too)."""
    print(name + " " + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()),
          flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", help="checkpoint root holding training_N folders")
    parser.add_argument("session", type=int, help="session number")
    parser.add_argument("epochs", type=int, nargs="*", help="epochs to score (default: the newest checkpoint)")
    parser.add_argument("--num", type=int, default=5000, help="generated images per score (default 5000)")
    args = parser.parse_args()
    model = classifier()
    real, test_features = reference(model, args.num)
    report("quality real", images=args.num, **real)
    for epoch in args.epochs or [None]:
        values = session_scores(model, args.root, args.session, epoch, args.num, test_features)
        report(f"quality session={args.session} epoch={epoch}", images=args.num, **values)


if __name__ == "__main__":
    main()
