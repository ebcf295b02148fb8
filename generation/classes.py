"""A conditional session's classes as generate_img.py and the app name them: the folder each class's
images go to, and the classes a --class list picks. Plain Python, no TensorFlow: the app checks
its form with this module alone.

A class's folder is its name with the characters no folder name can hold replaced by '_': the
path separators of POSIX and Windows, and control characters ('T-shirt/top' -> 'T-shirt_top').
A leading dot becomes '_' too, because dataset loaders skip hidden folders. Every other name is
kept as it is, so the class folders of an image-folder session are named like its training
subfolders.
"""
import re

from utils.errors import UserError

_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]")


def folder_name(class_name):
    name = _UNSAFE.sub("_", class_name)
    return "_" + name[1:] if name.startswith(".") else name


def class_folders(class_names, number=None):
    """The folder name of each class, in label order; refused when two classes would share a folder.
    Names that differ only in case count as shared: on macOS and Windows they are one folder."""
    folders = [folder_name(name) for name in class_names]
    seen = {}
    for name, folder in zip(class_names, folders):
        other = seen.setdefault(folder.casefold(), name)
        if other != name:
            whose = "The session's" if number is None else f"Session {number}'s"
            raise UserError(f"{whose} classes {other!r} and {name!r} would both be written to the "
                            f"folder {folder} (/, \\ and control characters become _, and case is ignored on "
                            "some systems), mixing their images. Rename one of them in the session's config.yaml "
                            "(class_names) and, to train on, its class subfolder in the data.")
    return folders


def choose(class_names, wanted, number, option="--class"):
    """The label indices, ascending and each once, of the classes `wanted` names: each item a class
    name, its folder name or its index (a number that is also a class's name means that class).
    No items: every class. class_names None (an unconditional session): None, and no items allowed."""
    if class_names is None:
        if wanted:
            raise UserError(f"Session {number} was trained without classes (not conditional), so {option} "
                            "cannot pick one: leave it out.")
        return None
    folders = class_folders(class_names, number)
    if not wanted:
        return list(range(len(class_names)))
    chosen = set()
    for value in wanted:
        text = str(value).strip()
        if text in class_names:
            chosen.add(class_names.index(text))
        elif text in folders:
            chosen.add(folders.index(text))
        elif text.isascii() and text.isdigit() and int(text) < len(class_names):
            chosen.add(int(text))
        else:
            listing = ", ".join(f"{i} {name}" for i, name in enumerate(class_names))
            whose = "The session" if number is None else f"Session {number}"
            raise UserError(f"{whose} has no class {text!r}. Its classes, by index: {listing}. "
                            f"Pick one of these names or indices with {option}.")
    return sorted(chosen)
