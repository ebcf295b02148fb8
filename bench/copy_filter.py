"""bench.py copy-filter: how many unseen real images generate_img.py --reject-copies would drop.

    python bench/bench.py copy-filter --weights bench/.data/pt_inception-2015-12-05-converted.pth

A seeded subset of --num images of the data set plays the training set, --num other images of it
the generated ones: real images the "generator" never saw, none of them a copy. Every image this
filter drops is a false alarm, so the share it drops is the price of the filter, and picks
metrics/near_copies.py's PERCENTILE. Per candidate percentile one line: the share of unseen images
the filter drops (the absolute and the relative rule, in either space), the share the absolute
rule alone would drop, the same per space, and the thresholds.
"""
import sys
from pathlib import Path

import numpy as np

import runs

REPO = Path(__file__).resolve().parent.parent


def add_arguments(parser):
    parser.add_argument("--data", default="fashion_mnist",
                        help="fashion_mnist, mnist, a folder of their IDX files or an image folder (default fashion_mnist)")
    parser.add_argument("--num", type=int, default=1000, help="images playing the training set, and as many unseen "
                        "ones (default 1000)")
    parser.add_argument("--percentiles", type=float, nargs="+", default=[0.5, 1, 2, 5],
                        help="candidate percentiles (default 0.5 1 2 5)")
    runs.add_weights(parser)
    parser.add_argument("--image-size", type=int, default=28, help="size images are brought to (default 28, "
                        "Fashion-MNIST's own); an image folder is decoded in RGB")
    parser.add_argument("--inception-size", type=int, default=299, help="compute_fid.py's --inception-size "
                        "(default 299)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the two subsets (default 0)")


def _images(args):
    """(2 num, size, size, channels) uint8: the data set's images in a seeded order, the first num
    of them the training set."""
    from metrics import sources
    channels = 1 if args.data in ("fashion_mnist", "mnist") or Path(args.data, "train-images-idx3-ubyte.gz").exists() \
        else 3
    source = sources.image_source(args.data, args.image_size, channels, 0)
    images = np.asarray(source.load().images)
    if len(images) < 2 * args.num:
        sys.exit(f"{args.data} has {len(images)} images, fewer than 2 x --num {args.num}")
    return images[np.random.default_rng(args.seed).permutation(len(images))[:2 * args.num]]


def _space(name, references, own, percentile):
    from metrics import near_copies
    return near_copies.Space(name, references, own, near_copies.threshold(own, percentile))


def run(args):
    sys.path.insert(0, str(REPO))
    from metrics import inception, near_copies
    from quality import report
    images = _images(args)
    extractor = inception.InceptionFeatures(args.weights, args.inception_size, batch_size=50)
    features = extractor.features(images)
    vectors = {"features": features, "pixels": images.reshape(len(images), -1)}
    if not near_copies.uses_pixels(images.shape[1:]):
        del vectors["pixels"]
    train, unseen = slice(0, args.num), slice(args.num, 2 * args.num)
    own = {name: near_copies.nearest_k(v[train], v[train], 1, exclude_self=True)[1][:, 0] for name, v in vectors.items()}
    for percentile in args.percentiles:
        spaces = [_space(name, v[train], own[name], percentile) for name, v in vectors.items()]
        verdict = near_copies.judge([v[unseen] for v in vectors.values()], spaces)
        values = dict(dropped=float(verdict.near.mean()), absolute_dropped=float(verdict.absolute.mean()))
        for name, space in zip(vectors, spaces):
            alone = near_copies.judge([vectors[name][unseen]], [space])
            values[f"{name}_dropped"] = float(alone.near.mean())
            values[f"{name}_absolute"] = float(alone.absolute.mean())
            values[f"{name}_threshold"] = space.threshold
        report(f"copy-filter percentile={percentile:g}", data=args.data, num=args.num, weights=extractor.identity["weights"],
               **values)
