"""The wording corpus (tests/consent_wordings.toml): clauses and forms of the kinds clinics use, each
with the verdict a careful reader gives it, judged as text through the scope judge.

A verdict is right when social_media, platforms, excluded_platforms and identifiable all match.
benchmarks/consent_pdfs.py prints the same figures with the confusion table.
"""
from __future__ import annotations

from collections import Counter

import pytest

from benchmarks.consent_pdfs import LABELS, covered_precision_recall, judge_corpus, judge_text, load_wordings
from consent.lexicon import PLATFORMS

WORDINGS = load_wordings()
CATEGORIES = {"grant", "conditional", "exception", "list", "form", "denial", "opt_out", "revocation",
              "questionnaire", "staff_policy", "vague", "other_use", "contradiction", "spanish"}


def test_the_corpus_holds_at_least_150_labelled_wordings_of_every_kind():
    assert len(WORDINGS) >= 150
    assert len({w["id"] for w in WORDINGS}) == len(WORDINGS)
    counts = Counter(w["category"] for w in WORDINGS)
    assert set(counts) == CATEGORIES and min(counts.values()) >= 7
    for w in WORDINGS:
        assert w["social_media"] in ("covered", "not_covered", "unclear"), w["id"]
        assert w["identifiable"] in ("allowed", "deidentified_only", "unclear"), w["id"]
        for key in ("platforms", "excluded_platforms"):
            assert w[key] == sorted(w[key], key=PLATFORMS.index), w["id"]  # DESIGN's order, known names


@pytest.mark.parametrize("wording", WORDINGS, ids=lambda w: w["id"])
def test_each_wording_gets_the_verdict_a_careful_reader_gives_it(wording):
    assert judge_text(wording["text"]) == {k: wording[k] for k in LABELS}


def test_covered_is_never_said_wrongly_and_at_least_97_percent_are_right():
    judged = judge_corpus(WORDINGS)
    precision, recall = covered_precision_recall(judged)
    assert precision == 1.0
    assert sum(j.right for j in judged) >= 0.97 * len(judged)
    assert recall >= 0.95
