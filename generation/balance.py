"""Topping classes up to a number of images, real ones included: the plan that generate_img.py
--balance prints and follows, and that evaluate_augmentation.py's topped-up arm uses. Plain
Python, no TensorFlow."""
from generation.classes import choose
from utils.errors import UserError


def top_up(real_counts, num):
    """How many images to generate for each class so that it holds `num` in all: `num` minus its
    real images, and none for a class that already has `num` or more. `real_counts` is a list (in
    label order) or a dict {class: count}; the answer has the same form."""
    if isinstance(real_counts, dict):
        return {name: max(0, num - count) for name, count in real_counts.items()}
    return [max(0, num - count) for count in real_counts]


def parse_real_counts(values, class_names, number=None, minimum=0):
    """--real-counts of generate_img.py and evaluate_augmentation.py: a list of counts in label
    order, from NAME=COUNT items (a class's name, folder name or index; every class named once) or
    from one plain count per class, in class order; each count at least `minimum`. number: the
    session's, for the messages (None: "the session")."""
    def count_of(text, what):
        if not (text.isascii() and text.isdigit()) or int(text) < minimum:
            raise UserError(f"--real-counts: the count of {what} must be a whole number of at least {minimum}, "
                            f"got {text!r}. Pass NAME=COUNT for each class, or one count per class in class order.")
        return int(text)

    if not any("=" in value for value in values):
        if len(values) != len(class_names):
            whose = "the session" if number is None else f"session {number}"
            raise UserError(f"--real-counts got {len(values)} counts, but {whose} has {len(class_names)} "
                            f"classes ({', '.join(class_names)}). Pass one count per class in this order, or "
                            "NAME=COUNT for each class.")
        return [count_of(value, class_names[i]) for i, value in enumerate(values)]
    counts = {}
    for value in values:
        name, sep, text = value.rpartition("=")
        if not sep or not name:
            raise UserError(f"--real-counts: {value!r} is not NAME=COUNT. Pass NAME=COUNT for each class, or one "
                            "count per class in class order, not a mix.")
        (index,) = choose(class_names, [name], number, option="--real-counts")
        if index in counts:
            raise UserError(f"--real-counts names class {class_names[index]} twice. Give each class once.")
        counts[index] = count_of(text, class_names[index])
    missing = [name for i, name in enumerate(class_names) if i not in counts]
    if missing:
        raise UserError(f"--real-counts has no count for {', '.join(missing)}. Give every class of the session "
                        "a count" + (" (0 for a class without training images)." if minimum == 0 else "."))
    return [counts[i] for i in range(len(class_names))]


def plan_lines(class_names, real, generated, num):
    """The printed plan: a line per class with its real and generated images and their sum."""
    width = max(len("class"), *(len(name) for name in class_names))
    lines = [f"Balance plan: every class topped up to {num} images, real ones included "
             f"({sum(generated)} to generate):",
             f"  {'class':<{width}}  {'real':>8}  {'generated':>9}  {'total':>8}"]
    lines += [f"  {name:<{width}}  {r:>8}  {g:>9}  {r + g:>8}" for name, r, g in zip(class_names, real, generated)]
    return lines
