"""The top-up plan: real images count towards NUM; a class at or above NUM gets none."""
from generation.balance import top_up


def test_a_rare_class_gets_the_difference_and_a_class_at_or_above_num_gets_none():
    assert top_up([25, 500, 700, 499], 500) == [475, 0, 0, 1]


def test_the_plan_keeps_the_class_names_it_was_given():
    assert top_up({"cat": 3, "dog": 10}, 8) == {"cat": 5, "dog": 0}
