"""The administrator's start page asks for the key file's backup, with the command, until an administrator
confirms it; the confirmation is in the audit log, once."""
from __future__ import annotations

import pytest

from records import services
from ui_fixtures import app, click, texts
from ui_fixtures import people_template, veil  # noqa: F401  (pytest fixtures)


def test_only_an_administrator_confirms_the_key_backup_and_once(veil):
    assert services.key_backup(veil.records, veil.admin) is None
    with pytest.raises(services.PermissionDenied):
        services.confirm_key_backup(veil.records, veil.staff)
    first = services.confirm_key_backup(veil.records, veil.admin)
    again = services.confirm_key_backup(veil.records, veil.admin)
    assert first == again == services.key_backup(veil.records, veil.admin) and first["by"] == "admin"
    assert len(services.audit_events(veil.records, veil.admin, action="keys.backup_confirmed")) == 1


def test_the_start_page_asks_the_administrator_until_the_backup_is_confirmed(veil):
    at = app(veil.admin)
    shown = texts(at)
    assert "**Back up the key file.**" in shown
    assert f"cp {veil.records.settings.key_file} /media/usb/" in [c.value.splitlines()[0] for c in at.code]
    assert "Back up the key file" not in texts(app(veil.staff))
    at = click(at, "I have backed up the key file")
    assert "Key file backup recorded in the audit log" in texts(at)
    assert "Back up the key file" not in texts(at) and not at.code
