"""Generating images from a trained session: latent batches through the generator, while a
background thread writes the previous batch as numbered PNGs.

Files are named img_000001.png, img_000002.png, ... so they sort in generation order. A run
never overwrites: in a folder that already holds img_N.png files the numbering continues after
the highest N. Every PNG is written atomically (imaging.write_png), and the writer stops between
two files on Ctrl-C, so the folder holds whole files only, numbered without gaps.
A conditional session's run writes each class into a folder of its own (generate_classes), each
numbered this way. A screen (metrics.near_copies.Filter) drops generated images before they are
written, and generation goes on until the asked number has passed.
"""
import re
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from generation.classes import class_folders
from metrics.sources import generated_batches
from utils import imaging
from utils.console import ProgressReport
from utils.errors import UserError

MIN_DIGITS = 6
# Batches generated but not yet written: the writer can fall this far behind before the
# generator waits, which keeps memory flat however many images are asked for.
IN_FLIGHT = 2
_NAME = re.compile(r"^img_(\d+)\.png$")


@dataclass
class Result:
    folder: Path
    first: int            # index of the first image of this run
    written: int          # images of this run on disk (fewer than asked when interrupted)
    width: int            # digits in the file names
    grid: Path = None     # None when interrupted: the preview is written only after a full run
    interrupted: bool = False
    class_name: str = None  # the class of a conditional session's run, else None
    asked: int = None     # images this run was to write

    def name(self, index):
        return image_name(index, self.width)


def image_name(index, width=MIN_DIGITS):
    return f"img_{index:0{width}d}.png"


def check_noise_dim(cfg, noise_dim, number):
    """The generator takes (B, cfg['noise_dim']) latents; refuse any other NOISE_DIM."""
    if noise_dim != cfg["noise_dim"]:
        raise UserError(f"Session {number} was trained with noise dimension {cfg['noise_dim']}, not {noise_dim}. "
                        f"Use: python generate_img.py {number} {cfg['noise_dim']} NUM")


def check_paths(out_dir, grid_path):
    """Refuse output paths that cannot work, before the (slow) model load and before any write."""
    out_dir, grid_path = Path(out_dir), Path(grid_path)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"The output folder {out_dir} is a file. Pass a folder to --out.")
    if grid_path.is_dir():
        raise UserError(f"The grid file {grid_path} is a folder. Pass a file name to --grid, e.g. {grid_path / 'grid.png'}.")
    if grid_path.suffix.lower() != ".png":
        raise UserError(f"The grid file {grid_path} must end in .png (it is written as a PNG).")
    # A class-per-folder loader reads every image below the output folder, subfolders included.
    if out_dir.resolve() in grid_path.resolve().parents:
        raise UserError(f"The grid {grid_path} would be inside the output folder {out_dir}, where a dataset "
                        "loader would take it for one more generated image. Put it elsewhere with --grid FILE.")


def next_index(folder):
    """1 + the highest N of the img_N.png files in folder; 1 for a new or empty folder."""
    folder = Path(folder)
    if not folder.is_dir():
        return 1
    found = [int(m.group(1)) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return max(found, default=0) + 1


class _Writer:
    """Writes batches of generator output as PNGs on one background thread, in order, so the files
    on disk are always a gap-free run of numbers; stop() takes effect between two files."""

    def __init__(self, folder, width):
        self.folder, self.width = Path(folder), width
        self.written = 0
        self._stop = threading.Event()

    def stop(self):
        self._stop.set()

    def write(self, tiles, first_index):
        """tiles: (B, H, W, C) uint8, written as first_index, first_index + 1, ..."""
        for offset, tile in enumerate(tiles):
            if self._stop.is_set():
                return
            path = self.folder / image_name(first_index + offset, self.width)
            # Checked again here, not only at start: another run may be writing into the same folder.
            if path.exists():
                raise UserError(f"{path} appeared while this run was writing: is another run writing into "
                                f"{self.folder}? Nothing was overwritten; give each run its own --out folder.")
            try:
                imaging.write_png(path, tile)
            except OSError as e:
                raise UserError(f"Writing {path} failed ({e.strerror or e}). The images before it are complete; "
                                "free disk space or pass another folder to --out.") from None
            self.written += 1


def generate(state, count, seed, out_dir, grid_path, batch_size=256, screen=None):
    """Write `count` images from state.ema_generator into out_dir and a preview grid to grid_path.

    The latents come from tf.random.Generator.from_seed(seed), one draw of models.noise per
    batch, so the same checkpoint, seed and batch size give byte-identical files.
    A Ctrl-C stops the run cleanly: the Result says how many images were written.
    """
    result, preview = _write_images(state, count, seed, Path(out_dir), batch_size, imaging.UNCONDITIONAL_GRID,
                                    screen=screen)
    if not result.interrupted:
        # Small images are enlarged (nearest neighbour) so the preview is viewable.
        result.grid = write_grid(imaging.grid(preview, scale=imaging.view_scale(preview.shape[1])), grid_path)
    return result


@dataclass
class Run:
    """What a run of generate_img.py wrote: one Result, or one per class of a conditional session."""
    results: list        # in label order; only the last can be interrupted
    grid: Path = None    # None when interrupted
    by_class: bool = False

    @property
    def interrupted(self):
        return self.results[-1].interrupted

    def report(self):
        """The line that tells a person where the images are, or how far an interrupted run got."""
        last = self.results[-1]
        if self.interrupted:
            names = f", {last.name(last.first)} .. {last.name(last.first + last.written - 1)}" if last.written else ""
            before = [r.class_name for r in self.results[:-1]]
            complete = f" (the classes before it are complete: {', '.join(before)})" if before else ""
            return (f"Interrupted: {last.written} of {last.asked} images written to {last.folder}{names}; "
                    f"every file there is complete{complete}.")
        if not self.by_class:
            return f"Done: {last.written} images in {last.folder}; preview grid: {self.grid}"
        if len({r.written for r in self.results}) == 1:
            return (f"Done: {last.written} images of each of {len(self.results)} classes in {last.folder.parent}, a folder "
                    f"per class ({', '.join(r.folder.name for r in self.results)}); preview grid: {self.grid}")
        return (f"Done: {sum(r.written for r in self.results)} images in {last.folder.parent}, a folder per class "
                f"({', '.join(f'{r.folder.name} {r.written}' for r in self.results)}); preview grid: {self.grid}")


def generate_run(state, count, seed, out_dir, grid_path, classes=None, batch_size=256, screen=None):
    """generate() for an unconditional session (classes None), else generate_classes(); a Run."""
    if classes is None:
        result = generate(state, count, seed, out_dir, grid_path, batch_size, screen)
        return Run([result], result.grid)
    return generate_classes(state, count, seed, out_dir, grid_path, classes, batch_size, screen)


def generate_classes(state, count, seed, out_dir, grid_path, classes, batch_size=256, screen=None):
    """Write `count` images of each class index in `classes` (ascending) into out_dir/<class folder>/
    (classes.class_folders), numbered per folder as generate() numbers one, and a preview grid with
    a row per class: its first imaging.CLASS_GRID_COLUMNS images, named (white where a class has
    fewer than another). `count` may also be a list beside `classes` (generate_img.py --balance): a class given 0
    gets no folder and no row.

    Every class draws its latents from the same seed, so image i of every class comes from the same
    noise (a grid column shows one latent across the classes), and a run for some classes writes
    the very files a run for all of them writes for those classes.
    """
    folders = class_folders(state.class_names)
    counts = count if isinstance(count, (list, tuple)) else [count] * len(classes)
    run, previews, names = Run([], by_class=True), [], []
    for index, number in zip(classes, counts):
        if not number:
            continue
        name = state.class_names[index]
        result, preview = _write_images(state, number, seed, Path(out_dir) / folders[index], batch_size,
                                        imaging.CLASS_GRID_COLUMNS, index, name, screen)
        run.results.append(result)
        if result.interrupted:
            return run
        previews.append(preview)
        names.append(name)
    width = max(len(preview) for preview in previews)  # a class with fewer images gets white tiles
    tiles = np.concatenate([np.concatenate([preview, np.full((width - len(preview), *preview.shape[1:]), 255, np.uint8)])
                            for preview in previews])
    run.grid = write_grid(imaging.class_grid(tiles, names), grid_path)
    return run


def check_class_folders(out_dir, folders):
    """Refuse class folders that are files, before the model load and before any class is written."""
    for folder in folders:
        path = Path(out_dir) / folder
        if path.exists() and not path.is_dir():
            raise UserError(f"{path} is a file, but the images of class {folder} go into a folder of that name. "
                            "Move the file away, or pass another folder to --out.")


def _write_images(state, count, seed, out_dir, batch_size, keep, label=None, class_name=None, screen=None):
    """(Result, the first `keep` images as uint8) of writing `count` images into out_dir;
    label: the class index for a conditional generator, else None. screen: uint8 batch, class name
    -> the mask of images to write; images are drawn (up to screen.budget(count)) until count pass."""
    first = next_index(out_dir)
    width = max(MIN_DIGITS, len(str(first + count - 1)))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"Cannot create the output folder {out_dir} ({e.strerror}). Pass another one to --out.") from None
    if first > 1:
        print(f"{out_dir} already holds images up to {image_name(first - 1, width)}: numbering continues at "
              f"{image_name(first, width)} (existing files are never overwritten).")
    of_class = "" if class_name is None else f" of {class_name}"
    print(f"Writing {count} images{of_class} to {out_dir}: {image_name(first, width)} .. "
          f"{image_name(first + count - 1, width)}")

    writer = _Writer(out_dir, width)
    progress = ProgressReport(count, "images written", unit_name="image")
    preview = []  # the first `keep` images of this run
    pending = deque()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="png-writer")
    done, finished = 0, False
    # The same seed draws the same latents whatever the total (the first of a larger draw equal a
    # smaller one), so a screened run's latents are the unscreened run's, less those dropped.
    drawn = count if screen is None else screen.budget(count)
    labels = None if label is None else np.full(drawn, label, np.int32)
    try:
        for images in generated_batches(state.ema_generator, state.cfg, drawn, seed, batch_size, labels):
            if screen is not None:
                images = _screened(images, count - done, screen, class_name)
            if done < keep:
                preview.append(images[:keep - done])
            if len(images):
                pending.append(pool.submit(writer.write, images, first + done))
                done += len(images)
            # Wait for the oldest batch only when too many are queued, or at the end.
            while len(pending) > IN_FLIGHT or (done == count and pending):
                pending.popleft().result()
                progress.update(writer.written)
            if done == count:
                break
        while pending:  # a screened run that ran out of draws: what it found is written before it stops
            pending.popleft().result()
        if done < count:
            raise screen.shortfall(count, done, class_name)
        finished = True
    except KeyboardInterrupt:
        pass
    finally:
        if not finished:  # interrupted or failed: let the file being written complete, drop the rest
            writer.stop()
        pool.shutdown(wait=True, cancel_futures=True)
    if progress.bar and not finished:
        print()  # the bar leaves the cursor at the end of its line
    result = Result(out_dir, first, writer.written, width, interrupted=not finished, class_name=class_name, asked=count)
    return result, np.concatenate(preview) if finished else None


def _screened(images, needed, screen, class_name):
    """The first `needed` images of a batch that pass the screen, in order. Only as many are
    screened as it takes (screening runs Inception, generating does not): the rest are dropped
    unseen, and the screen counts only the images it saw."""
    kept, start = [], 0
    while needed > 0 and start < len(images):
        chunk = images[start:start + needed]
        kept.append(chunk[screen(chunk, class_name)])
        needed, start = needed - len(kept[-1]), start + len(chunk)
    return np.concatenate(kept) if kept else images[:0]


def write_grid(canvas, path):
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        imaging.write_png(path, canvas)
    except OSError as e:
        raise UserError(f"Writing the grid {path} failed ({e.strerror or e}); the images themselves are "
                        "complete. Pass another file to --grid.") from None
    return path
