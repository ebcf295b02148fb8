"""The top-up plan: real images count towards NUM; a class at or above NUM gets none."""
import pytest

from generation.balance import plan_lines, top_up
from utils.errors import UserError


def test_a_rare_class_gets_the_difference_and_a_class_at_or_above_num_gets_none():
    assert top_up([25, 500, 700, 499], 500) == [475, 0, 0, 1]


def test_the_plan_keeps_the_class_names_it_was_given():
    assert top_up({"cat": 3, "dog": 10}, 8) == {"cat": 5, "dog": 0}


CLASSES = ["T-shirt/top", "Trouser", "Bag"]


def test_real_counts_by_name_folder_name_or_index_come_back_in_label_order():
    from generation.balance import parse_real_counts
    assert parse_real_counts(["Bag=7", "T-shirt_top=5", "1=0"], CLASSES, 4) == [5, 0, 7]
    assert parse_real_counts(["5", "0", "7"], CLASSES, 4) == [5, 0, 7]


@pytest.mark.parametrize("values, message", [
    (["Hat=3", "Trouser=1", "Bag=2"], "no class 'Hat'"),
    (["Trouser=1", "Bag=2"], "no count for T-shirt/top"),
    (["Bag=1", "2=1", "Trouser=1", "0=1"], "names class Bag twice"),
    (["5", "7"], "got 2 counts, but session 4 has 3 classes"),
    (["Bag=many", "Trouser=1", "0=1"], "must be a whole number"),
    (["Bag=1", "2", "3"], "not NAME=COUNT"),
])
def test_real_counts_that_do_not_name_each_class_once_are_refused(values, message):
    from generation.balance import parse_real_counts
    with pytest.raises(UserError, match=message):
        parse_real_counts(values, CLASSES, 4)


def test_the_printed_plan_has_a_line_per_class_with_real_generated_and_total():
    lines = plan_lines(["cat", "dog"], [3, 10], top_up([3, 10], 8), 8)
    assert lines[0] == "Balance plan: every class topped up to 8 images, real ones included (5 to generate):"
    assert [line.split() for line in lines[1:]] == [["class", "real", "generated", "total"],
                                                    ["cat", "3", "5", "8"], ["dog", "10", "0", "10"]]
