"""The helpers every page shares: a failed service call is shown with its reason, and nothing the person
typed or uploaded (a file name may be a patient's name) reaches the server log."""
from __future__ import annotations

import logging

from browser_support import free_port
from records.users import PermissionDenied
from ui.session import FAILED, outcome
from ui_fixtures import app

UPLOADED_NAME = "anna_smith_2024-03-01.jpg"


def _refuses():
    raise PermissionDenied("the auditor role may not upload media")


def _breaks():
    raise RuntimeError(f"decoder crashed on /tmp/{UPLOADED_NAME}")


def test_a_refusal_is_returned_with_what_failed_and_why():
    assert outcome(f"{UPLOADED_NAME}: upload", _refuses) == (
        FAILED, f"{UPLOADED_NAME}: upload: the auditor role may not upload media")


def test_an_unexpected_failure_is_logged_without_the_file_name_or_the_message(caplog):
    with caplog.at_level(logging.ERROR, logger="veil.ui"):
        value, message = outcome(f"{UPLOADED_NAME}: upload", _breaks)
    assert value is FAILED
    assert message.startswith(f"{UPLOADED_NAME}: upload failed unexpectedly (RuntimeError)")   # to the person
    assert "_breaks failed unexpectedly: RuntimeError" in caplog.text                          # to the log
    assert "anna" not in caplog.text and "decoder crashed" not in caplog.text


def test_records_that_cannot_be_opened_are_refused_in_the_database_s_own_words(tmp_path, monkeypatch):
    monkeypatch.setenv("VEIL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VEIL_KEY_FILE", str(tmp_path / "keys" / "keyset.json"))
    monkeypatch.setenv("VEIL_DATABASE_URL", f"postgresql+psycopg://veil@127.0.0.1:{free_port()}/veil")   # nobody there
    at = app()
    (error,) = at.error
    assert error.value.startswith("Veil cannot open its records: connection failed")
    assert "Connection refused" in error.value
    assert "sqlalche.me" not in error.value and "psycopg.OperationalError" not in error.value   # not the wrapping
    assert not at.exception
