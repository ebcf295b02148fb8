"""A real small colour image set for the benchmarks: npm's emoji-datasource-apple, 64x64 RGBA PNGs,
laid out as one folder per category (the class-folder layout users bring).

    python bench/emoji_set.py                      # bench/.data/emoji-apple/<category>/*.png
    python bench/emoji_set.py --package emoji-datasource-twitter --out bench/.data/emoji-twitter

`npm pack` fetches the package's tarball from the npm registry (never at training time, never in
the tests). Each entry of its emoji.json names an image and a category; the skin-tone variants of
an entry belong to its category, which is why People & Body is over half the set. The Component
category (five swatches of skin tones and hair styles, not emoji) is left out. The PNGs are
copied as they are, transparency included. emoji-datasource-google is kept aside for an
independent check and is not used by the benchmarks.
"""
import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PACKAGE = "emoji-datasource-apple"
LEFT_OUT = {"Component"}


def folder_name(category):
    """'Smileys & Emotion' -> 'Smileys_and_Emotion': a folder name any file system and shell takes."""
    return category.replace("&", "and").replace(" ", "_")


def images_by_category(entries, vendor):
    """[(image file name, category)] of emoji.json's entries and their skin-tone variants that the
    vendor has an image for."""
    pairs = []
    for entry in entries:
        if entry["category"] in LEFT_OUT:
            continue
        for item in [entry, *(entry.get("skin_variations") or {}).values()]:
            if item.get(f"has_img_{vendor}", True):
                pairs.append((item["image"], entry["category"]))
    return pairs


def lay_out(package_dir, out, vendor, size=64):
    """Copies package_dir/img/<vendor>/<size>/<image> into out/<category>/; returns the count per
    category. Images the index names but the package lacks are skipped and counted."""
    entries = json.loads((Path(package_dir) / "emoji.json").read_text())
    source = Path(package_dir) / "img" / vendor / str(size)
    counts, missing = Counter(), 0
    for image, category in images_by_category(entries, vendor):
        if not (source / image).is_file():
            missing += 1
            continue
        target = Path(out) / folder_name(category)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / image, target / image)
        counts[folder_name(category)] += 1
    if missing:
        print(f"{missing} images named in emoji.json are not in the package; skipped")
    return counts


def fetch(package, out):
    vendor = package.rsplit("-", 1)[-1]
    with tempfile.TemporaryDirectory() as tmp:
        packed = subprocess.run(["npm", "pack", package, "--silent"], cwd=tmp, check=True, capture_output=True,
                                text=True).stdout.split()[-1]
        with tarfile.open(Path(tmp) / packed) as archive:
            archive.extractall(tmp, filter="data")
        counts = lay_out(Path(tmp) / "package", out, vendor)
        # beside the folder, not in it: the loader would report it as a file it cannot use
        shutil.copy2(Path(tmp) / "package" / "LICENSE", Path(out).parent / f"{Path(out).name}-LICENSE")
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package", default=DEFAULT_PACKAGE, help=f"npm package (default {DEFAULT_PACKAGE})")
    parser.add_argument("--out", help="the class folders' parent (default bench/.data/<package without "
                                      "emoji-datasource->)")
    args = parser.parse_args(argv)
    out = Path(args.out or REPO / "bench" / ".data" / args.package.replace("emoji-datasource-", "emoji-"))
    if out.is_dir() and any(out.iterdir()):
        print(f"{out} already holds the set; remove it to fetch again")
        return 0
    counts = fetch(args.package, out)
    print(f"{sum(counts.values())} images in {len(counts)} class folders under {out}:")
    for name, count in counts.most_common():
        print(f"  {name:20s} {count:5d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
