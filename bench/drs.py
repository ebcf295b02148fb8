"""bench.py drs: discriminator rejection sampling on a session's images, with and without, measured.

    python bench/bench.py drs --checkpoint-root bench/.runs/imbalanced --session 1 \\
        --weights bench/.data/pt_inception-2015-12-05-converted.pth --real fashion_mnist

Discriminator rejection sampling (Azadi et al. 2019, "Discriminator Rejection Sampling") keeps a
generated image x with probability sigmoid(F(x) - gamma), where D(x) is the session's own
discriminator's logit, M the largest logit seen so far (from a burn-in of --burn-in images, raised
as higher ones come), F(x) = D(x) - M - log(1 - exp(D(x) - M - eps)) and gamma the --percentile-th
percentile of F over the burn-in (the 95th, as in the authors' experiments and Uber's MH-GAN code).
A conditional session is filtered class by class: M and gamma of each class, its images judged with
its label.

The discriminator judges the images as it judged fakes in training: batches of the session's batch
size, all generated, with batchnorm on the batch's own statistics (its moving averages mix real and
fake batches, which no fake batch was ever judged by). A conditional session's batches mix the
classes being drawn, as its fake batches did.

Measured on one session, each with and without the filter:
  the standard FID and precision/recall of --num generated images against --real (a conditional
      session's --num spread evenly over its classes);
  for a conditional session, the imbalanced evaluation's topped-up arm (evaluate_augmentation.py
      --real-counts all): the classifier on the session's training images topped up to the largest
      class with generated images, unfiltered and filtered, beside the real images alone, run by run.
"""
import json
import math
from pathlib import Path

import numpy as np

import runs

EPSILON = 1e-6
PERCENTILE = 95.0


def add_arguments(parser):
    parser.add_argument("--checkpoint-root", required=True, help="the folder holding training_N/")
    parser.add_argument("--session", type=int, default=1, help="session number (default 1)")
    parser.add_argument("--real", required=True, help="the real side of FID and precision/recall: a dataset name, "
                        "an IDX folder or an image folder, as compute_fid.py --real")
    parser.add_argument("--num", type=int, default=5000, help="generated images per score (default 5000)")
    parser.add_argument("--num-real", type=int, default=10000, help="real images, a seeded subset (default 10000)")
    parser.add_argument("--inception-size", type=int, default=299, help="compute_fid.py's --inception-size "
                        "(default 299)")
    parser.add_argument("--burn-in", type=int, default=5000, help="images of each class that set M and gamma "
                        "(default 5000)")
    parser.add_argument("--percentile", type=float, default=PERCENTILE, help="gamma's percentile of F (default 95)")
    parser.add_argument("--repeats", type=int, default=3, help="classifier runs of each arm (default 3; 0 = none)")
    parser.add_argument("--out", help="where drs_results.jsonl goes (default: the session folder)")
    runs.add_weights(parser)


def f_values(logits, maximum):
    """F(x) of the paper: the log density ratio shifted so that the best image seen is near 0."""
    shifted = logits - maximum
    return shifted - np.log1p(-np.exp(shifted - EPSILON))


class Sampler:
    """Generated images of given classes, screened by rejection on the discriminator's logits."""

    def __init__(self, state, cfg, seed, batch_size=None):
        import tensorflow as tf
        from models.dcgan import noise
        self.state, self.cfg = state, cfg
        self.batch_size = batch_size or cfg["batch_size"]
        self._rng = tf.random.Generator.from_seed(seed)
        self._uniform = np.random.default_rng([seed, 17])
        self._noise = noise

    def draw(self, labels):
        """(uint8 images, D logits) of one batch of the given class indices (all 0 for an unconditional session)."""
        import tensorflow as tf
        from data.pipeline import to_float
        from utils import imaging
        z = self._noise(self._rng, len(labels), self.cfg)
        conditional = self.cfg["conditional"]
        fake = self.state.ema_generator([z, tf.constant(labels, tf.int32)] if conditional else z, training=False)
        images = imaging.to_uint8(fake.numpy())
        # The uint8 image, as written to a file, is what is judged and kept.
        x = to_float(images)
        logits = self.state.discriminator([x, tf.constant(labels, tf.int32)] if conditional else x, training=True)
        return images, np.asarray(logits, np.float64)[:, 0]

    def _labels(self, classes, count):
        return np.resize(np.asarray(classes, np.int32), count)[self._uniform.permutation(count)]

    def plain(self, counts):
        """{class: uint8 images}: counts[c] unscreened images of each class c."""
        wanted = {c: n for c, n in enumerate(counts) if n}
        kept = {c: [] for c in wanted}
        labels = np.repeat(list(wanted), list(wanted.values()))
        labels = labels[self._uniform.permutation(len(labels))]
        for start in range(0, len(labels), self.batch_size):
            batch = labels[start:start + self.batch_size]
            images, _ = self.draw(batch)
            for c in wanted:
                kept[c].append(images[batch == c])
        return {c: np.concatenate(kept[c]) for c in wanted}

    def screened(self, counts, burn_in, percentile):
        """({class: uint8 images}, {class: acceptance rate}): counts[c] images of each class c that
        pass discriminator rejection sampling."""
        wanted = [c for c, n in enumerate(counts) if n]
        seen = {c: [] for c in wanted}
        for _ in range(math.ceil(burn_in * len(wanted) / self.batch_size)):
            labels = self._labels(wanted, self.batch_size)
            _, logits = self.draw(labels)
            for c in wanted:
                seen[c].append(logits[labels == c])
        seen = {c: np.concatenate(v) for c, v in seen.items()}
        maximum = {c: v.max() for c, v in seen.items()}
        gamma = {c: np.percentile(f_values(v, maximum[c]), percentile) for c, v in seen.items()}
        kept = {c: [] for c in wanted}
        drawn = dict.fromkeys(wanted, 0)
        short = list(wanted)
        while short:
            labels = self._labels(short, self.batch_size)
            images, logits = self.draw(labels)
            for c in short:
                mine = labels == c
                maximum[c] = max(maximum[c], logits[mine].max(initial=-np.inf))
                accept = 1.0 / (1.0 + np.exp(-(f_values(logits[mine], maximum[c]) - gamma[c])))
                keep = self._uniform.random(mine.sum()) < accept
                kept[c].append(images[mine][keep])
                drawn[c] += int(mine.sum())
            short = [c for c in wanted if sum(map(len, kept[c])) < counts[c]]
        return ({c: np.concatenate(kept[c])[:counts[c]] for c in wanted},
                {c: counts[c] / drawn[c] for c in wanted})


def _scores(images, real, extractor):
    from metrics import fid, prdc
    stats = extractor.statistics([images], keep_features=True)
    values = prdc.prdc(real.features, stats.features)
    return dict(fid=fid.fid_of_stats(real, stats), precision=values.precision, recall=values.recall,
                density=values.density, coverage=values.coverage)


def _usefulness(args, state, cfg, report):
    """The imbalanced evaluation's real and topped-up arms, topped up without and with the filter."""
    from metrics import imbalance, usefulness
    real, _ = usefulness.training_images(cfg)
    test, _ = usefulness.held_out_images(cfg)
    counts = np.bincount(real.labels, minlength=len(cfg["class_names"])).tolist()
    target = max(counts)
    rare = np.array(counts) < target
    top_up = [target - n for n in counts]
    arms = {"real": [], "topped-up": [], "topped-up-drs": []}
    for seed in range(args.repeats):
        sets = {"real": real}
        for arm, screen in (("topped-up", False), ("topped-up-drs", True)):
            sampler = Sampler(state, cfg, seed)
            made = sampler.screened(top_up, args.burn_in, args.percentile)[0] if screen else sampler.plain(top_up)
            sets[arm] = usefulness.LabelledImages.join(
                [real] + [usefulness.LabelledImages(v, np.full(len(v), c, np.int32)) for c, v in made.items()])
        for arm, data in sets.items():
            model = usefulness.train_classifier(data, len(counts), seed, usefulness.DEFAULT_EPOCHS)
            matrix = imbalance.confusion(test.labels, usefulness.predicted(model, test), len(counts))
            arms[arm].append((imbalance.balanced_accuracy(matrix), float(np.mean(imbalance.recalls(matrix)[rare]))))
            report(f"drs usefulness {arm} run={seed + 1}", balanced_accuracy=arms[arm][-1][0],
                   rare_recall=arms[arm][-1][1])
    summary = {}
    for arm, values in arms.items():
        values = np.array(values)
        summary[arm] = dict(balanced_accuracy=values[:, 0].tolist(), rare_recall=values[:, 1].tolist())
        if arm != "real":
            gain = values - np.array(arms["real"])
            summary[arm].update(minus_real_balanced=gain[:, 0].mean(), minus_real_rare=gain[:, 1].mean())
    return summary


def run(args):
    from metrics import inception, sources
    from quality import report
    from training import state as session_state
    state, epoch = session_state.load_session(args.checkpoint_root, args.session)
    cfg = state.cfg
    extractor = inception.InceptionFeatures(args.weights, args.inception_size)
    source = sources.image_source(args.real, cfg["image_size"], cfg["channels"], args.num_real)
    real, _ = sources.source_stats(source, extractor, sources.stats_cache(cfg["cache_dir"]), keep_features=True)
    classes = len(cfg["class_names"]) if cfg["conditional"] else 1
    counts = [len(part) for part in np.array_split(np.arange(args.num), classes)]
    record = dict(session=str(Path(args.checkpoint_root) / f"training_{args.session}"), epoch=epoch,
                  percentile=args.percentile, burn_in=args.burn_in)
    record["plain"] = _scores(np.concatenate(list(Sampler(state, cfg, 0).plain(counts).values())), real, extractor)
    report("drs plain", **record["plain"])
    screened, rates = Sampler(state, cfg, 0).screened(counts, args.burn_in, args.percentile)
    record["drs"] = dict(_scores(np.concatenate(list(screened.values())), real, extractor),
                         acceptance=float(np.mean(list(rates.values()))))
    record["acceptance_per_class"] = {str(c): r for c, r in rates.items()}
    report("drs filtered", **record["drs"])
    if cfg["conditional"] and args.repeats:
        record["usefulness"] = _usefulness(args, state, cfg, report)
        for arm, values in record["usefulness"].items():
            report(f"drs usefulness {arm}", **{k: (np.mean(v) if isinstance(v, list) else v) for k, v in values.items()})
    out = Path(args.out or Path(args.checkpoint_root) / f"training_{args.session}")
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "drs_results.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
