"""`python -m consent check PDF... --json`: the contract in DESIGN.md."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

from asn1crypto import pem

from consent.forms import build_model_form, fill_form
from consent.verdict import Verdict
from consent_fixtures import FILLED_MODEL_FORM, self_signed_identity, sign, text_pdf, write

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = {"instagram", "facebook", "tiktok", "youtube", "x", "linkedin", "pinterest", "snapchat", "threads"}
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def is_text_or_none(value) -> bool:
    return value is None or (isinstance(value, str) and value != "")


def is_flag_or_none(value) -> bool:
    return value is None or isinstance(value, bool)


def is_platform_list(value) -> bool:
    return isinstance(value, list) and all(p in PLATFORMS for p in value)


def is_evidence(value) -> bool:
    return isinstance(value, list) and all(
        isinstance(e, dict) and type(e.get("page")) is int and e["page"] >= 1 and isinstance(e.get("text"), str)
        for e in value)


# DESIGN.md's `check` contract: each key and what its value may be
CONTRACT = {
    "path": lambda v: isinstance(v, str) and Path(v).is_absolute(),
    "error": is_text_or_none,
    "text_source": lambda v: v in ("text", "ocr", "mixed", "none"),
    "social_media": lambda v: v in ("covered", "not_covered", "unclear"),
    "platforms": is_platform_list,
    "excluded_platforms": is_platform_list,
    "identifiable": lambda v: v in ("allowed", "deidentified_only", "unclear"),
    "expires": lambda v: v is None or (isinstance(v, str) and DATE.fullmatch(v) is not None),
    "expires_event": is_text_or_none,
    "signed": is_flag_or_none,
    "signature_valid": is_flag_or_none,
    "evidence": is_evidence,
}


def run_check(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "consent", "check", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)


def test_json_output_has_every_contract_key_and_judges_the_others_when_one_fails(tmp_path):
    good = write(tmp_path, "good.pdf", text_pdf("I authorize the clinic to post my photographs on Instagram."))
    bad = write(tmp_path, "bad.pdf", b"not a pdf")
    done = run_check(str(good), str(bad), "--json")
    assert done.returncode == 1
    results = json.loads(done.stdout)
    assert [Path(r["path"]) for r in results] == [good.absolute(), bad.absolute()]
    assert all(set(CONTRACT) <= set(r) for r in results)
    assert results[0]["social_media"] == "covered" and results[0]["error"] is None
    assert results[0]["evidence"] and set(results[0]["evidence"][0]) >= {"page", "text"}
    assert results[1]["social_media"] == "unclear" and "bad.pdf" in results[1]["error"]


def test_exit_code_is_zero_when_every_pdf_was_read(tmp_path):
    path = write(tmp_path, "form.pdf", text_pdf("I authorize use of my photographs in brochures."))
    done = run_check(str(path))
    assert done.returncode == 0
    assert done.stdout.strip() == f"{path.absolute()}: not_covered; identifiable unclear; " \
                                  "signature: check by eye; text from text"


def test_usage_errors_exit_with_two(tmp_path):
    assert run_check().returncode == 2
    path = write(tmp_path, "form.pdf", text_pdf("Hello."))
    assert run_check(str(path), "--trust-roots", str(tmp_path / "missing.pem")).returncode == 2
    identity = self_signed_identity()
    with_key = write(tmp_path, "with-key.pem", identity.cert_pem + pem.armor("PRIVATE KEY", identity.key_der))
    refused = run_check(str(path), "--trust-roots", str(with_key))
    assert refused.returncode == 2 and "it holds a PRIVATE KEY, not only certificates" in refused.stderr


def test_trust_roots_reach_each_isolated_reading(tmp_path):
    """The certificates loaded by the command line travel to the process that reads each PDF."""
    identity = self_signed_identity()
    roots = tmp_path / "roots.pem"
    roots.write_bytes(identity.cert_pem)
    path = write(tmp_path, "signed.pdf", sign(text_pdf("I authorize posting on Instagram."), identity))
    untrusted, trusted = (json.loads(run_check(str(path), "--json", *extra).stdout)[0]
                          for extra in ((), ("--trust-roots", str(roots))))
    assert untrusted["signature_valid"] is True and untrusted["signer_trusted"] is False
    assert trusted["signature_valid"] is True and trusted["signer_trusted"] is True


def test_every_contract_key_is_printed_with_a_value_of_its_type(tmp_path):
    """A signed model form (every key holds a value) and an unreadable file (the error entry): each key of
    DESIGN.md is there with a value of its type, and every field of Verdict is printed."""
    signed = sign(fill_form(build_model_form(), FILLED_MODEL_FORM), self_signed_identity(), "signature")
    form = write(tmp_path, "signed.pdf", signed)
    broken = write(tmp_path, "broken.pdf", b"%PDF-1.7 cut short")
    done = run_check(str(form), str(broken), "--json")
    assert done.returncode == 1, done.stderr
    read, failed = json.loads(done.stdout)
    for entry in (read, failed):
        assert set(entry) == {f.name for f in fields(Verdict)}
        assert [k for k in entry if k in CONTRACT] == list(CONTRACT)   # in DESIGN.md's order
        wrong = {k: entry[k] for k, fits in CONTRACT.items() if not fits(entry[k])}
        assert wrong == {}, wrong
    assert (read["error"], read["social_media"], read["platforms"], read["excluded_platforms"]) == \
        (None, "covered", ["instagram", "facebook"], ["tiktok"])
    assert (read["expires"], read["signed"], read["signature_valid"], read["identifiable"]) == \
        ("2027-06-30", True, True, "allowed")
    assert read["evidence"] and read["text_source"] == "text"
    assert failed["error"].startswith("broken.pdf: ") and failed["social_media"] == "unclear"
    assert Verdict.from_json(read).to_json() == read   # the JSON printed holds the whole verdict
