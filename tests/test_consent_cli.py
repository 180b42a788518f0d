"""`python -m consent check PDF... --json`: the contract in DESIGN.md."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from consent_fixtures import self_signed_identity, sign, text_pdf, write

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_KEYS = {"path", "error", "text_source", "social_media", "platforms", "excluded_platforms", "identifiable",
                 "expires", "expires_event", "signed", "signature_valid", "evidence"}


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
    assert all(CONTRACT_KEYS <= set(r) for r in results)
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
