"""What compute_fid.py reports for a pair of image sets: every number asked for, its printed lines,
and the tables of --sessions and --per-class (CSV and Markdown).

The two sets compared are metrics.sides.Side, which compute_fid.py builds from its arguments.
"""
import csv
import dataclasses
import io
import json
from pathlib import Path

from metrics import fid, memorisation, prdc
from utils import imaging
from utils.errors import UserError, warn


def measure(sides, extractor, kid=False, with_prdc=False, copies=None):
    """(Stats of the real and the fake side, {name: value} in the order printed, CopyCheck or None).
    sides: the real and the fake sides.Side. copies: check that many fake images (metrics.memorisation)
    against all the real ones. Prints what each side is."""
    keep = kid or with_prdc or copies is not None  # all three work on the feature vectors
    results, kept = [], []
    for name, side, count in zip(("Real", "Fake"), sides, (0, copies)):
        print(f"{name}: {side.label}: ", end="", flush=True)  # the label first: extraction can take minutes
        measured = side.compute(extractor, keep, None if copies is None else count)
        stats = measured.stats
        print(f"{stats.count if stats.count is not None else 'an unknown number of'} images ({measured.origin}).",
              flush=True)
        note = stats.count is not None and fid.small_n_warning(stats.count, f"The {name.lower()} set")
        if note:
            warn(note)
        results.append(stats)
        kept.append(measured.images)
    real, fake = results
    values = {"FID": fid.fid_of_stats(real, fake)}
    if kid:
        values["KID"], values["KID std"] = fid.kernel_inception_distance(real.features, fake.features)
    if with_prdc:
        values.update(prdc_values(real, fake))
    checked = None
    if copies is not None:
        checked = memorisation.check(kept[1], kept[0])
        print(f"Copy check: {len(kept[1].pixels)} generated images against {len(kept[0].pixels)} real ones.")
        values["copies"] = checked.features.share
        if checked.pixels is not None:
            values["copies_pixels"] = checked.pixels.share
    return results, values, checked


def prdc_values(real, fake):
    """{precision, recall, density, coverage} of two Stats that hold their features."""
    try:
        return dataclasses.asdict(prdc.prdc(real.features, fake.features))
    except ValueError as e:  # too few images for the k-th nearest neighbour
        raise UserError(f"--prdc cannot use these sets: {e}. Use more images (--num, --num-real).") from None


def result_lines(values):
    """'FID: v', 'KID: mean ± std', then 'name: v' for every other value."""
    return [f"KID: {value:.6g} ± {values['KID std']:.6g}" if name == "KID" else f"{name}: {value:.6g}"
            for name, value in values.items() if name != "KID std"]


def session_table(rows):
    """(columns, rows sorted by FID) of rows {session, epoch, cfg, values}: session, epoch, the config
    keys whose values differ, then every value measured (FID, KID, KID std, precision, ...); a value
    a session lacks (copies_pixels of large images) is empty."""
    cfgs = [row["cfg"] for row in rows]
    differing = [key for key in cfgs[0] if len({json.dumps(cfg.get(key)) for cfg in cfgs}) > 1]
    measured = list(dict.fromkeys(name for row in rows for name in row["values"]))
    columns = ["session", "epoch", *differing, *measured]
    table = [[row["session"], row["epoch"], *(row["cfg"].get(key) for key in differing),
              *(f"{row['values'][name]:.6g}" if name in row["values"] else "" for name in measured)]
             for row in sorted(rows, key=lambda row: row["values"]["FID"])]
    return columns, table


def class_table(rows, overall):
    """(columns, rows) of per-class FID: rows (class name, real images, generated images, FID or
    None) in label order, then the overall comparison (real images, generated images, FID) with an
    empty index, which is how a program tells it from a class (one may be named 'overall'). A class
    without a FID has an empty cell."""
    columns = ["index", "class", "real", "generated", "FID"]
    table = [[index, name, real, made, "" if value is None else f"{value:.6g}"]
             for index, (name, real, made, value) in enumerate(rows)]
    real, made, value = overall
    return columns, table + [["", "overall", real, made, f"{value:.6g}"]]


def to_markdown(columns, table):
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(v) for v in row) + " |" for row in table]) + "\n"


def write_table(prefix, columns, table, markdown):
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerows([columns, *table])
    try:
        for suffix, content in ((".csv", text.getvalue()), (".md", markdown)):
            imaging.write_atomic(prefix.with_name(prefix.name + suffix), lambda target: Path(target).write_text(content))
    except OSError as e:
        raise UserError(f"Cannot write the table to {prefix}.csv/.md ({e.strerror or e}). Pass a writable --table PREFIX.") from None
