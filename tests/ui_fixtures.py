"""Fixtures for the workstation tests: a fresh installation in a temporary folder, its users, records
seeded through records.services (the same functions the pages call), and the app under AppTest."""
from __future__ import annotations

import datetime as dt
import functools
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT, grace_hopper_path
from records import services
from records.audit import SYSTEM, Actor
from records.config import load_settings
from consent_fixtures import self_signed_identity, sign, text_pdf

PASSWORDS = {"admin": "admin-password-1", "sam": "staff-password-1", "mia": "market-password-1",
             "otto": "audit-password-1"}
PATIENT = ("Ada Example", "MRN-000123")      # invented for the tests


def covered_consent_pdf(extra: str = "", patient: str = PATIENT[0]) -> bytes:
    """A consent the checker judges covered, digitally signed (so the gate's signature rule holds)."""
    text = ("Photography consent\n\nI authorize the clinic to post my photographs on Instagram and Facebook.\n\n"
            + (extra + "\n\n" if extra else "") + f"Patient: {patient}")
    return sign(text_pdf(text), _identity())


@functools.cache
def _identity():
    return self_signed_identity("Clinic Test Signer")


def not_covered_consent_pdf() -> bytes:
    return text_pdf("Treatment consent\n\nI do not authorize any use of my photographs on social media.")


@dataclass
class Veil:
    """One installation: its records and a signed-in actor per role."""
    records: services.Records
    admin: Actor
    staff: Actor
    marketing: Actor
    auditor: Actor

    def actor(self, role: str) -> Actor:
        return {"admin": self.admin, "staff": self.staff, "marketing": self.marketing, "auditor": self.auditor}[role]


def open_installation(data_dir: Path, monkeypatch) -> services.Records:
    monkeypatch.setenv("VEIL_DATA_DIR", str(data_dir / "data"))
    monkeypatch.setenv("VEIL_KEY_FILE", str(data_dir / "keys" / "keyset.json"))
    monkeypatch.delenv("VEIL_DATABASE_URL", raising=False)
    return services.open_records(load_settings())


@pytest.fixture
def empty_veil(tmp_path, monkeypatch) -> services.Records:
    records = open_installation(tmp_path, monkeypatch)
    yield records
    records.close()


def _add_people(records: services.Records) -> dict[str, Actor]:
    admin = services.add_user(records, SYSTEM, "admin", PASSWORDS["admin"], "admin")
    return {"admin": admin, "staff": services.add_user(records, admin, "sam", PASSWORDS["sam"], "staff"),
            "marketing": services.add_user(records, admin, "mia", PASSWORDS["mia"], "marketing"),
            "auditor": services.add_user(records, admin, "otto", PASSWORDS["otto"], "auditor")}


@pytest.fixture(scope="session")
def people_template(tmp_path_factory) -> tuple[Path, dict[str, Actor]]:
    """An installation with its four users, built once: password hashing is slow on purpose (argon2), so
    each test starts from a copy of it instead."""
    folder = tmp_path_factory.mktemp("veil-people")
    with pytest.MonkeyPatch.context() as patch:
        records = open_installation(folder, patch)
        actors = _add_people(records)
        records.close()
    return folder, actors


def copy_installation(template: Path, target: Path) -> None:
    for part in ("data", "keys"):
        shutil.copytree(template / part, target / part)


@pytest.fixture
def veil(tmp_path, monkeypatch, people_template) -> Veil:
    """A fresh installation (a copy of the template) with an admin, staff (sam), marketing (mia), auditor (otto)."""
    template, actors = people_template
    copy_installation(template, tmp_path)
    records = open_installation(tmp_path, monkeypatch)
    yield Veil(records, actors["admin"], actors["staff"], actors["marketing"], actors["auditor"])
    records.close()


def register(veil: Veil, pdf: bytes | None = None, actor: Actor | None = None, patient: tuple = PATIENT):
    return services.register_consent(veil.records, actor or veil.staff, pdf or covered_consent_pdf(patient=patient[0]),
                                     *patient)


def processed_photo(veil: Veil, consent_id: str | None, actor: Actor | None = None):
    """grace_hopper.jpg uploaded under the consent and de-identified; returns (asset, output)."""
    actor = actor or veil.staff
    asset = services.upload_media(veil.records, actor, grace_hopper_path(), "photo.jpg", consent_id)
    return asset, services.process(veil.records, actor, asset.id)


def ready_to_release(veil: Veil, patient: tuple = PATIENT):
    """A reviewed photo under a covered consent whose scope and patient were confirmed: the gate allows it."""
    consent = register(veil, patient=patient)
    asset, output = processed_photo(veil, consent.id)
    services.confirm_patient(veil.records, veil.staff, asset.id)
    services.mark_reviewed(veil.records, veil.staff, output.id)
    services.confirm_scope(veil.records, veil.marketing, consent.id, covers_social_media=True,
                           identifiable="deidentified_only", platforms=["instagram"])
    return consent, asset, output


def released(veil: Veil, platform: str = "instagram", patient: tuple = PATIENT):
    consent, asset, output = ready_to_release(veil, patient)
    release = services.request_release(veil.records, veil.marketing, output.id, platform)
    decision = services.approve_release(veil.records, veil.marketing, release.id)
    assert decision.allowed, decision.reasons
    return consent, output, release


def app(actor: Actor | None = None, page: str | None = None, timeout: float = 60) -> AppTest:
    """The whole app (app.py with its navigation), signed in as actor, on page (e.g. "app_pages/review.py")."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    if actor is not None:
        at.session_state["actor"] = actor
    at.run()
    if page:
        at.switch_page(page).run()   # raises ValueError when the role's navigation does not list the page
    return at


def page_alone(actor: Actor | None, page: str, timeout: float = 60) -> AppTest:
    """One page script run on its own, as if its address were asked for without going through app.py."""
    at = AppTest.from_file(str(ROOT / page), default_timeout=timeout)
    if actor is not None:
        at.session_state["actor"] = actor
    return at.run()


def texts(at: AppTest) -> str:
    """Every piece of text on the page, one per line, to assert on what a person reads."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "success", "warning", "error",
                 "text"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def days_from_today(days: int) -> str:
    return (dt.date.today() + dt.timedelta(days=days)).strftime("%B %-d, %Y")


def widget(at: AppTest, kind: str, label: str):
    """The widget of that kind whose label starts with label (AppTest finds widgets by key or by index)."""
    found = [w for w in getattr(at, kind) if str(getattr(w, "label", "")).startswith(label)]
    assert found, f"no {kind} labelled {label!r}; have {[getattr(w, 'label', None) for w in getattr(at, kind)]}"
    return found[0]


def button(at: AppTest, label: str):
    return widget(at, "button", label)


def has_button(at: AppTest, label: str) -> bool:
    return any(str(b.label).startswith(label) for b in at.button)


def click(at: AppTest, label: str) -> AppTest:
    return button(at, label).click().run()
