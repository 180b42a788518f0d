"""Sessions that survive a reload: the cookie is signed with the installation's key and expires; it names a
session the server keeps open, which signing out and the idle timeout close."""
from __future__ import annotations

from records import services as sv
from records.crypto import Keys
from records.sessions import LIFETIME_SECONDS, SessionBook, issue, read, resume
from records_fixtures import add_people, sqlite_records  # noqa: F401  (pytest fixtures)

NOW = 1_750_000_000.0
IDLE = 30 * 60


def _opened(records, user_id: str):
    book = SessionBook()
    sid = book.open(user_id, NOW)
    return book, sid, issue(records.keys, sid, user_id, int(NOW + LIFETIME_SECONDS))


def test_a_cookie_takes_up_its_open_session_with_the_role_the_account_has_now(sqlite_records):
    people = add_people(sqlite_records)
    book, sid, token = _opened(sqlite_records, people.staff.id)
    assert resume(sqlite_records.db, sqlite_records.keys, book, token, NOW + 60, IDLE) == (sid, people.staff)
    sv.set_user_role(sqlite_records, people.admin, people.staff.username, "marketing")
    _, actor = resume(sqlite_records.db, sqlite_records.keys, book, token, NOW + 120, IDLE)
    assert actor.role == "marketing"


def test_an_altered_expired_or_foreign_cookie_is_void(sqlite_records, tmp_path):
    people = add_people(sqlite_records)
    book, sid, token = _opened(sqlite_records, people.staff.id)
    keys = sqlite_records.keys
    assert read(keys, token, NOW) is not None
    assert read(keys, token[:-2] + ("00" if token[-2:] != "00" else "11"), NOW) is None      # tag altered
    other_user = token.replace(people.staff.id, people.admin.id)                             # claim altered
    assert read(keys, other_user, NOW) is None
    assert read(keys, token, NOW + LIFETIME_SECONDS + 1) is None                             # expired
    foreign = Keys.load_or_create(tmp_path / "other-installation" / "keyset.json")
    assert read(foreign, token, NOW) is None
    for junk in (None, "", "v1.a.b", "v2." + token[3:], token + ".x", "v1.x;y.z.1.ab"):
        assert read(keys, junk, NOW) is None


def test_signing_out_the_idle_timeout_and_a_disabled_account_close_the_session(sqlite_records):
    people = add_people(sqlite_records)
    db, keys = sqlite_records.db, sqlite_records.keys
    book, sid, token = _opened(sqlite_records, people.staff.id)
    book.close(sid)                                                                          # signed out
    assert resume(db, keys, book, token, NOW + 1, IDLE) is None

    book, sid, token = _opened(sqlite_records, people.staff.id)
    book.touch(sid, NOW + 600)                                                               # active at +10 min
    assert resume(db, keys, book, token, NOW + 600 + IDLE - 1, IDLE) is not None
    assert resume(db, keys, book, token, NOW + 600 + 2 * IDLE + 1, IDLE) is None             # idle too long
    assert book.last_seen(sid) is None                                                       # and closed for good

    book, sid, token = _opened(sqlite_records, people.staff.id)
    sv.set_user_active(sqlite_records, people.admin, people.staff.username, False)
    assert resume(db, keys, book, token, NOW + 1, IDLE) is None
    assert book.last_seen(sid) is None


def test_a_session_is_bound_to_its_person(sqlite_records):
    people = add_people(sqlite_records)
    book, sid, _ = _opened(sqlite_records, people.staff.id)
    forged = issue(sqlite_records.keys, sid, people.admin.id, int(NOW + 60))   # even correctly signed
    assert resume(sqlite_records.db, sqlite_records.keys, book, forged, NOW, IDLE) is None
