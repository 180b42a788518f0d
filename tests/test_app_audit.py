"""Audit: the timeline, chain verification (and a broken chain shown as broken), look-up by dropping any file,
exports, and the charts of releases per consent and consents ending soon."""
from __future__ import annotations

from sqlalchemy import update

from records import services
from records.models import AuditEvent
from ui_fixtures import app, click, covered_consent_pdf, days_from_today, register, released, texts, widget
from ui_fixtures import people_template, veil  # noqa: F401  (pytest fixtures)


def test_the_auditor_verifies_an_intact_chain(veil):
    released(veil)
    at = click(app(veil.auditor, "app_pages/audit.py"), "Verify the chain")
    assert [s.value for s in at.success][0].startswith("audit chain intact:")


def test_an_edited_event_breaks_the_chain_and_the_page_says_where(veil):
    released(veil)
    with veil.records.db.engine.begin() as conn:   # someone with the database file, past its triggers
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_update")
        conn.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(details='{"forged": true}'))
    at = click(app(veil.auditor, "app_pages/audit.py"), "Verify the chain")
    assert "audit chain BROKEN at event 3: its contents do not match its hash" in texts(at)


def test_the_timeline_lists_events_filters_them_and_exports_csv_and_json(veil):
    released(veil)
    at = app(veil.auditor, "app_pages/audit.py")
    frame = at.dataframe[0].value
    assert {"release.allowed", "consent.registered", "output.reviewed"} <= set(frame["action"])
    widget(at, "multiselect", "Actions").set_value(["release.allowed"])
    at.run()
    assert list(at.dataframe[0].value["action"]) == ["release.allowed"]
    assert [d.label for d in at.download_button] == ["Export CSV", "Export JSON"]


def test_dropping_the_released_file_finds_its_release_and_consent(veil):
    consent, output, release = released(veil)
    name, data = services.download_output(veil.records, veil.marketing, output.id)
    at = app(veil.auditor, "app_pages/audit.py")
    widget(at, "file_uploader", "File to look up").set_value(("from-instagram.jpg", data, "image/jpeg"))
    shown = texts(at.run())
    assert f"**output** · the exact file · output {output.id[:8]} · consent {consent.id[:8]}" in shown
    assert f"Release {release.id[:8]}: **released** for instagram" in shown
    assert f"Consent {consent.id[:8]}: **active**" in shown


def test_a_file_veil_never_saw_is_reported_as_not_found(veil):
    released(veil)
    at = app(veil.auditor, "app_pages/audit.py")
    widget(at, "file_uploader", "File to look up").set_value(("notes.txt", b"nothing to do with Veil", "text/plain"))
    assert "notes.txt: not found in Veil's records" in texts(at.run())


def test_the_charts_show_releases_per_consent_and_consents_ending_soon(veil):
    released(veil)
    register(veil, covered_consent_pdf(f"This authorization expires on {days_from_today(20)}."))
    at = app(veil.auditor, "app_pages/audit.py")
    charts = at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
    assert len(charts) == 2
    assert "Consents ending within 90 days" in texts(at)


def test_a_dropped_file_is_looked_up_once_however_often_the_page_reruns(veil):
    consent, output, release = released(veil)
    name, data = services.download_output(veil.records, veil.marketing, output.id)
    at = app(veil.auditor, "app_pages/audit.py")
    widget(at, "file_uploader", "File to look up").set_value(("from-instagram.jpg", data, "image/jpeg"))
    at.run()
    for action in ("release.allowed", "consent.registered"):   # filtering the timeline reruns the whole page
        widget(at, "multiselect", "Actions").set_value([action])
        at.run()
    assert f"Release {release.id[:8]}: **released** for instagram" in texts(at)
    assert len(services.audit_events(veil.records, veil.admin, action="lookup")) == 1
    assert not any((veil.records.settings.work_dir).glob("*/*"))   # the dropped copy did not outlive the look-up


def test_a_long_log_is_read_a_page_at_a_time_and_filtered_in_the_database(veil):
    released(veil)
    for _ in range(210):                                    # each search is an audit event
        services.find_consents(veil.records, veil.staff, "MRN-404")
    total = len(services.audit_events(veil.records, veil.auditor))
    at = app(veil.auditor, "app_pages/audit.py")
    assert len(at.dataframe[0].value) == 200
    assert list(at.dataframe[0].value["#"])[0] == total                      # newest first
    page = widget(at, "number_input", f"Page (of 2; {total} matching events")
    page.set_value(2)
    at = at.run()
    assert list(at.dataframe[0].value["#"]) == list(range(total - 200, 0, -1))
    widget(at, "multiselect", "Actions").set_value(["release.allowed"])
    at = at.run()                                           # one page now: the page number starts again
    assert list(at.dataframe[0].value["action"]) == ["release.allowed"]
    assert not [w for w in at.number_input if str(w.label).startswith("Page")]
