"""Augmentation policies by name. Plain Python, no TensorFlow: the config validator checks a
policy without loading Keras; models/augment.py applies it."""
TRANSFORMS = ("color", "translation", "cutout")


def parse_policy(text):
    """'none' -> (); 'color,translation' -> ('color', 'translation'), applied in that order."""
    names = tuple(name.strip() for name in text.split(","))
    if names == ("none",):
        return ()
    for name in names:
        if name not in TRANSFORMS:
            raise ValueError(f"unknown augmentation {name!r} in policy {text!r}; use 'none' or any of "
                             f"{', '.join(TRANSFORMS)} joined by commas")
    if len(set(names)) != len(names):
        raise ValueError(f"policy {text!r} names a transform twice; each of {', '.join(TRANSFORMS)} "
                         f"may appear once")
    return names
