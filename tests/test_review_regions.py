"""A reviewer's drawn region carries what it covers: [x0, y0, x1, y1] is covered like a face, and with "text"
after its corners like text (solid); anything else after the corners is refused, not guessed."""
from __future__ import annotations

import pytest

from deid.api import merge_review
from records.services.core import WorkflowError
from records.services.review import _box

FOUND = [((10, 10, 50, 50), "face"), ((60, 60, 200, 80), "text")]


def test_a_region_drawn_as_text_is_labelled_text_and_one_drawn_plainly_manual():
    merged = merge_review(FOUND, [[300, 10, 380, 40, "text"], [300, 100, 360, 160]], [(60, 60, 200, 80)],
                          (400, 400, 3))
    assert [(list(r), kind) for r, kind in merged] == [([10, 10, 50, 50], "face"), ([300, 10, 380, 40], "text"),
                                                       ([300, 100, 360, 160], "manual")]


def test_the_records_keep_text_after_the_corners_and_refuse_any_other_word():
    assert _box([1, 2, 30, 40, "text"]) == [1, 2, 30, 40, "text"]
    assert _box((1, 2, 30, 40)) == [1, 2, 30, 40]
    for bad in ([1, 2, 30, 40, "face"], [1, 2, 30, 40, "text", "text"], [30, 2, 1, 40, "text"], [1, 2, 30]):
        with pytest.raises(WorkflowError):
            _box(bad)
