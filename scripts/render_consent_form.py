"""The model consent form, as signed on a tablet, drawn as pictures for docs/:
`python -m scripts.render_consent_form [--language en|es] [--hashes]`.

An invented patient's answers and a drawn signature fill the current form version; the result is sealed
with a throwaway self-signed certificate (made here, never kept) and each page is drawn to PNG by pdfium:
docs/consent-form-<language>-page<N>.png. `--hashes` prints each form file's text SHA-256 instead (for a
new version in assets/consent_form/versions.toml).
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import math
import sys
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from PIL import Image
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from consent.form_versions import ASSET_DIR, current_version, text_sha256
from consent.forms import load_spec
from consent.signature_pad import Signature, signature_png
from consent.signed_form import Signing, page_pictures, render_signed_form
from records.signing import SealingIdentity, seal, self_signed_certificate

DOCS = Path(__file__).resolve().parent.parent / "docs"
EXAMPLE = {   # an invented patient
    "clinic_name": "Example Clinic", "media_description": "Before-and-after photographs of a skin treatment",
    "social_media": True, "platform_instagram": True, "platform_facebook": True, "deidentified_only": True,
    "clinic_website": True, "expiry_date": "2030-06-30", "signer_name": "Ada Example",
}


def example_signature() -> Signature:
    """Two strokes: a looping name and an underline."""
    name = [(60 + 4 * i + 18 * math.cos(i / 3), 100 - 30 * math.sin(i / 3) - 10 * math.sin(i / 11)) for i in range(80)]
    underline = [(50 + 5.5 * i, 150 - 0.3 * i) for i in range(70)]
    return Signature.of([name, underline], 540, 200)


def throwaway_identity() -> SealingIdentity:
    cert_der, key_der = self_signed_certificate()
    cert = asn1_x509.Certificate.load(cert_der)
    signer = signers.SimpleSigner(signing_cert=cert, signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
                                  cert_registry=SimpleCertificateStore.from_certs([cert]))
    return SealingIdentity(signer, cert, "example")


def render(language: str) -> list[Path]:
    version = current_version(language)
    signing = Signing("example" + "0" * 25, dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.timezone.utc), "sam",
                      "Ada Example", "MRN-000123", by_representative=False)
    pdf = seal(render_signed_form(version, EXAMPLE, signature_png(example_signature()), signing), throwaway_identity())
    written = []
    for number, png in enumerate(page_pictures(pdf, scale=1.25), start=1):
        path = DOCS / f"consent-form-{language}-page{number}.png"
        picture = Image.open(io.BytesIO(png)).convert("L")   # grey: a third of the size, nothing lost
        picture.save(path, "PNG", optimize=True)
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", choices=("en", "es"), action="append")
    parser.add_argument("--hashes", action="store_true", help="print each form file's text SHA-256 and stop")
    args = parser.parse_args(argv)
    if args.hashes:
        for path in sorted(ASSET_DIR.glob("*.toml")):
            spec = load_spec(path)
            if "block" in spec:
                print(f"{path.name}: {text_sha256(spec)}")
        return 0
    DOCS.mkdir(exist_ok=True)
    for language in args.language or ["en"]:
        for path in render(language):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
