"""Topping classes up to a number of images, real ones included: the plan that generate_img.py
--balance prints and follows, and that evaluate_augmentation.py's topped-up arm uses. Plain
Python, no TensorFlow."""


def top_up(real_counts, num):
    """How many images to generate for each class so that it holds `num` in all: `num` minus its
    real images, and none for a class that already has `num` or more. `real_counts` is a list (in
    label order) or a dict {class: count}; the answer has the same form."""
    if isinstance(real_counts, dict):
        return {name: max(0, num - count) for name, count in real_counts.items()}
    return [max(0, num - count) for count in real_counts]
