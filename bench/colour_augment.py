"""bench.py colour-augment: augmentation on a real small colour set, until the baseline memorises.

    python bench/bench.py colour-augment --data bench/.data/emoji-apple --keep bench/.runs \\
        --weights bench/.data/pt_inception-2015-12-05-converted.pth --subset 1000 --image-size 32 \\
        --epochs 600 --score-every 40

Three arms train on the same seeded subset of the set with configs/image_folder_64.yaml (at
--image-size, with --set overrides): no augmentation, ADA (augment_p auto, the config's policy) and
fixed DiffAugment (color,translation,cutout at p=1). The arms advance in turn, --score-every epochs
at a time, so a run stopped at any point leaves curves of equal length; with --keep it goes on from
each arm's newest checkpoint, across sessions. After each stretch every arm's averaged generator is
scored by the standard FID of --num images against the WHOLE set (as StyleGAN2-ADA scores its
subsets against the full dataset: a generator that hands back its training subset is not rewarded
for it), and r_t and augment_p of every epoch come from the sessions' metrics.csv. One record per
score in results.jsonl, and curves.png draws them: FID against steps above, every epoch's r_t
(and augment_p) below.
"""
import csv
import json
from pathlib import Path

import runs

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "configs" / "image_folder_64.yaml"
ARMS = {
    "none": {"augment": "none"},
    "ada": {"augment": "color,translation,cutout", "augment_p": "auto"},
    "diffaugment": {"augment": "color,translation,cutout", "augment_p": 1.0},
}


def add_arguments(parser):
    parser.add_argument("--data", required=True, help="the image folder (class subfolders are fine)")
    parser.add_argument("--subset", type=int, default=1000, help="seeded subset trained on (default 1000)")
    parser.add_argument("--image-size", type=int, default=32, choices=(32, 64), help="(default 32)")
    # The recipe its figures were measured with, whatever the config file defaults to since.
    runs.add_set(parser, default=["g_filters=64", "d_filters=64", "batch_size=64"])
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS), help="(default: all three)")
    parser.add_argument("--epochs", type=int, default=600, help="epochs each arm trains to (default 600)")
    parser.add_argument("--score-every", type=int, default=40, help="epochs between scores (default 40)")
    parser.add_argument("--num", type=int, default=2000, help="generated images per score (default 2000)")
    runs.add_weights(parser)
    runs.add_keep(parser, required=True)
    runs.add_grids(parser)


def _overrides(args, arm):
    from training import config
    return dict(config.parse_overrides(args.set), **ARMS[arm], data_dir=str(Path(args.data).resolve()),
                image_size=args.image_size, max_images=args.subset, cache_dir=str(Path(args.keep).resolve() / "cache"),
                checkpoint_every=args.score_every, max_to_keep=None)


def _real_stats(args, extractor):
    from metrics import sources
    source = sources.image_source(str(Path(args.data).resolve()), args.image_size, 3, 0)
    stats, _ = sources.source_stats(source, extractor, Path(args.keep).resolve() / "cache" / "fid")
    return stats


def run(args):
    from data.pipeline import steps_per_epoch
    from metrics import inception, sources
    from quality import report
    from training import state as session_state
    root = Path(args.keep) / f"colour_augment_{args.subset}_{args.image_size}"
    root.mkdir(parents=True, exist_ok=True)
    results_path = root / "results.jsonl"
    done = {(r["arm"], r["epoch"]) for r in map(json.loads, results_path.read_text().splitlines())} \
        if results_path.exists() else set()
    extractor = inception.InceptionFeatures(args.weights)
    real = _real_stats(args, extractor)
    count = min(args.subset, real.count) if args.subset else real.count
    scored = sorted({*range(args.score_every, args.epochs, args.score_every), args.epochs})  # the last one too
    for previous, epoch in zip([0, *scored], scored):
        for arm in args.arms:
            if (arm, epoch) in done:
                continue
            rows = runs.train_session(root / arm, _overrides(args, arm), epoch, config_path=CONFIG)
            state, _ = session_state.load_session(root / arm, 1, epoch)
            fid = sources.fid_of_generator(state.ema_generator, state.cfg, real, args.num, extractor, seed=0)
            stretch = rows[previous:epoch]  # the epochs since the last score
            record = dict(arm=arm, epoch=epoch, steps=epoch * steps_per_epoch(count, state.cfg["batch_size"]),
                          fid=fid, r_t=rows[epoch - 1]["r_t"], r_t_stretch_min=min(r["r_t"] for r in stretch),
                          augment_p=rows[epoch - 1].get("augment_p"),
                          images_per_sec=max(r["images_per_sec"] for r in stretch))
            with open(results_path, "a") as f:
                f.write(json.dumps(record) + "\n")
            runs.copy_outputs(root / arm / "training_1", Path(args.grids) / f"{root.name}_{arm}")
            report(f"colour-augment {arm} epoch={epoch}", **{k: v for k, v in record.items() if k not in ("arm", "epoch")})
        plot_curves(root, args.arms)


def plot_curves(root, arms=tuple(ARMS)):
    """root/curves.png: each arm's FID at its scores (top) and its r_t and augment_p every epoch (bottom)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from utils import imaging
    records = [json.loads(line) for line in (root / "results.jsonl").read_text().splitlines()]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for arm, colour in zip(arms, ("tab:blue", "tab:orange", "tab:green")):
        mine = [r for r in records if r["arm"] == arm]
        if not mine:
            continue
        top.plot([r["steps"] for r in mine], [r["fid"] for r in mine], "o-", color=colour, label=arm)
        steps_per_epoch = mine[0]["steps"] / mine[0]["epoch"]
        with open(root / arm / "training_1" / "metrics.csv") as f:
            rows = list(csv.DictReader(f))[:mine[-1]["epoch"]]  # up to its last score, like the FID curve
        steps = [int(row["epoch"]) * steps_per_epoch for row in rows]
        bottom.plot(steps, [float(row["r_t"]) for row in rows], color=colour, lw=0.8, label=f"{arm} r_t")
        if arm != "none":
            bottom.plot(steps, [float(row["augment_p"] or 0) for row in rows], color=colour, lw=0.8, ls="--",
                        label=f"{arm} augment_p")
    top.set(ylabel="FID against the whole set", title=root.name)
    bottom.axhline(0.9, color="grey", lw=0.5)
    bottom.set(xlabel="steps", ylabel="r_t (solid), augment_p (dashed)", ylim=(0, 1.05))
    top.legend()
    bottom.legend(fontsize=7, ncol=2)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    imaging.write_atomic(root / "curves.png", lambda target: fig.savefig(target, format="png", dpi=90))
    plt.close(fig)
