"""The installation's seal: the certificate that signs consents signed in Veil, and the sealing itself.

The clinic's own certificate is used when `VEIL_SIGNING_P12` names a PKCS#12 file (its passphrase in
`VEIL_SIGNING_P12_PASSPHRASE`, from the environment or the private secrets file). Otherwise Veil makes a
self-signed installation certificate on first use and keeps it in the database: the certificate in
clear, its private key encrypted with the installation's field key, so a backup carries it and nobody
without the key file can sign with it. Both are trust roots for the checker, so Veil's own consents
read `signer_trusted: true`.

Sealing is a PAdES baseline signature (ETSI.CAdES.detached, SHA-256) into the form's signature field,
certifying the document with no changes permitted: any later change to the file breaks the seal.
"""
from __future__ import annotations

import base64
import datetime as dt
import io
import logging
import secrets
from dataclasses import dataclass
from typing import Protocol

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from records import audit
from records.audit import Actor
from records.config import Settings
from records.crypto import Keys
from records.models import Database, Installation, field_context

log = logging.getLogger("veil.signing")
CERTIFICATE_YEARS = 30        # longer than any consent is kept (HIPAA: six years), so old seals still verify
_KEY_CONTEXT = field_context("installation", "signing_key", "1")


class SigningError(RuntimeError):
    """The document could not be sealed; the message says why (never the passphrase)."""


class _Records(Protocol):   # what this module needs of records.services.Records
    settings: Settings
    db: Database
    keys: Keys


@dataclass(frozen=True)
class SealingIdentity:
    signer: signers.SimpleSigner
    certificate: asn1_x509.Certificate
    source: str   # "clinic": VEIL_SIGNING_P12; "installation": the self-signed certificate Veil made

    @property
    def subject(self) -> str:
        return self.certificate.subject.human_friendly


# -- the certificate -------------------------------------------------------------------------------------
def sealing_identity(records: _Records, actor: Actor) -> SealingIdentity:
    """The clinic's certificate when configured, else the installation's (made now on first use; `actor`
    is named in the audit event that records its making)."""
    if records.settings.signing_p12 is not None:
        return clinic_identity(records.settings)
    cert_der, key_der = _installation_keypair(records, actor)
    cert = asn1_x509.Certificate.load(cert_der)
    signer = signers.SimpleSigner(signing_cert=cert, signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
                                  cert_registry=SimpleCertificateStore.from_certs([cert]))
    return SealingIdentity(signer, cert, "installation")


def clinic_identity(settings: Settings) -> SealingIdentity:
    path = settings.signing_p12
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningError(f"VEIL_SIGNING_P12 {path}: cannot read the certificate file "
                           f"({exc.strerror or type(exc).__name__})") from None
    passphrase = settings.signing_p12_passphrase
    try:
        signer = signers.SimpleSigner.load_pkcs12_data(data, other_certs=None,
                                                       passphrase=passphrase.encode() if passphrase else None)
    except Exception as exc:  # noqa: BLE001 - a wrong passphrase and a damaged file raise many kinds
        raise SigningError(f"VEIL_SIGNING_P12 {path}: cannot open the certificate file ({type(exc).__name__}); "
                           "check the file and VEIL_SIGNING_P12_PASSPHRASE") from None
    return SealingIdentity(signer, signer.signing_cert, "clinic")


def trust_roots(records: _Records) -> list[bytes]:
    """The certificates (DER) Veil's own consents are sealed with: the installation's (if made) and the
    clinic's (if configured and readable). Consents sealed before a switch to the clinic's certificate stay
    trusted. DER bytes, not parsed certificates: they go to the checker in another process."""
    roots = []
    with records.db.reading() as session:
        row = session.get(Installation, 1)
        if row is not None and row.signing_cert:
            roots.append(bytes(row.signing_cert))
    if records.settings.signing_p12 is not None:
        try:
            roots.append(clinic_identity(records.settings).certificate.dump())
        except SigningError as exc:   # sealing says so loudly; a checked upload only loses the trust mark
            log.error("%s", exc)
    return roots


def _installation_keypair(records: _Records, actor: Actor) -> tuple[bytes, bytes]:
    with records.db.reading() as session:
        row = session.get(Installation, 1)
        if row is not None and row.signing_cert:
            return bytes(row.signing_cert), _decrypted_key(records.keys, row)
    cert_der, key_der = self_signed_certificate()
    with records.db.transaction() as session:
        row = session.get(Installation, 1, with_for_update=True)
        if not row.signing_cert:   # another process may have made one meanwhile: keep theirs
            row.signing_cert = cert_der
            row.signing_key_enc = records.keys.encrypt_text(base64.b64encode(key_der).decode("ascii"), _KEY_CONTEXT)
            cert = x509.load_der_x509_certificate(cert_der)
            audit.append(session, records.keys, actor, "installation.signing_certificate_created", "installation",
                         "1", subject=cert.subject.rfc4514_string(),
                         sha256=cert.fingerprint(hashes.SHA256()).hex(),
                         not_after=cert.not_valid_after_utc.isoformat())
        return bytes(row.signing_cert), _decrypted_key(records.keys, row)


def _decrypted_key(keys: Keys, row: Installation) -> bytes:
    return base64.b64decode(keys.decrypt_text(row.signing_key_enc, _KEY_CONTEXT))


def self_signed_certificate() -> tuple[bytes, bytes]:
    """A new P-256 key and a certificate for it, signed by itself, for sealing documents (not for TLS)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Veil"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"Veil consent seal {secrets.token_hex(4)}")])
    now = dt.datetime.now(dt.timezone.utc)
    usage = x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365 * CERTIFICATE_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.DER), key_der


# -- sealing ---------------------------------------------------------------------------------------------
def seal(pdf: bytes, identity: SealingIdentity, *, field: str = "signature",
         reason: str = "Patient consent signed in Veil") -> bytes:
    """Sign `pdf` into its existing empty signature field `field`, certifying it with no changes allowed.
    The field's appearance is a line of small text (who sealed it, when) under the drawn signature."""
    meta = signers.PdfSignatureMetadata(field_name=field, subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256",
                                        certify=True, docmdp_permissions=MDPPerm.NO_CHANGES, reason=reason)
    style = TextStampStyle(stamp_text="Sealed digitally by %(signer)s, %(ts)s", border_width=0,
                           timestamp_format="%Y-%m-%d %H:%M:%S UTC",
                           text_box_style=TextBoxStyle(font_size=6))
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        out = signers.PdfSigner(meta, identity.signer, stamp_style=style).sign_pdf(writer)
    except Exception as exc:  # noqa: BLE001 - pyHanko raises many kinds; the document is not stored
        # the type only: a parser's message may quote the document, which holds the patient's name
        raise SigningError(f"the consent could not be sealed ({type(exc).__name__})") from None
    return out.getvalue()
