"""The release gate of DESIGN.md: every rule checked, every failing rule reported with its reason.

`evaluate` is pure: it reads the rows it is given and decides; the service around it writes the decision,
allowed or refused, to the audit log in the same transaction. All rules are checked even after one fails,
so the person sees everything that stands in the way at once. Each refusal names, in `fix`, the action
that clears it (FIXES), so the page showing it can offer that action to a person allowed to take it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from consent.lexicon import PLATFORMS  # DESIGN.md's platform names, one list for the checker and the gate
from records.models import Asset, Consent, Output, Release

# "twitter" is X.
_ALIASES = {"twitter": "x", "x.com": "x", "ig": "instagram", "fb": "facebook", "yt": "youtube"}


@dataclass(frozen=True)
class Fix:
    """What clears a refusal: the action in words, and the permission it takes (records.users.PERMISSIONS)."""
    how: str
    needs: str


# The actions that clear refusals, by name: machine-readable, so a page can offer the action beside the reason
# to a person allowed to take it (records.services.releases).
FIXES = {
    "review": Fix("a person reviews the output and confirms that no face or other identifier is visible", "review"),
    "review_again": Fix("re-render the output with other regions, or process the media again, and review it",
                        "review"),
    "request_newest": Fix("request the release of the newest rendering instead", "request_release"),
    "link_consent": Fix("link the media to the patient's current consent", "link_consent"),
    "attest_signature": Fix("a person who has seen the handwritten signature attests it on the consent",
                            "confirm_scope"),
    "confirm_scope": Fix("a person confirms the consent's scope from its quoted evidence", "confirm_scope"),
    "confirm_patient": Fix("a person confirms that the consent belongs to the patient in the media", "review"),
    "new_consent": Fix("register a new signed consent of the patient that covers social media", "register_consent"),
    "other_platform": Fix("request the release for a platform the consent covers", "request_release"),
    "deidentify": Fix("process the media with a profile that covers faces", "process"),
    "another_approver": Fix("a person other than the uploader approves", "approve_release"),
    "recheck_identifiers": Fix("read the output again for the patient's name and reference", "review"),
}


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    fix: str | None = None   # a key of FIXES: the action that clears this refusal


@dataclass
class Decision:
    allowed: bool
    reasons: list[Reason] = field(default_factory=list)
    release_id: str | None = None

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]

    def as_dict(self) -> dict:
        return {"allowed": self.allowed, "release_id": self.release_id,
                "reasons": [{"code": r.code, "message": r.message, "fix": r.fix} for r in self.reasons]}


def normalise_platform(name: str) -> str:
    key = name.strip().lower()
    return _ALIASES.get(key, key)


def evaluate(*, output: Output, asset: Asset, consent: Consent | None, approver_id: str | None, platform: str,
             today: dt.date, two_person_rule: bool) -> Decision:
    reasons: list[Reason] = []
    reasons += _output_rules(output)
    reasons += _identifier_rules(output, asset)
    if consent is None:
        reasons.append(Reason("no_consent", "no consent is linked to this media", "link_consent"))
    else:
        reasons += _signature_rules(consent)
        reasons += _status_rules(consent, today)
        reasons += _scope_rules(consent, output, normalise_platform(platform))
        if asset.consent_id != consent.id or asset.patient_confirmed_by is None:
            reasons.append(Reason("patient_unconfirmed", "no person has confirmed that the consent belongs to "
                                                         "the patient in the media", "confirm_patient"))
    if two_person_rule and approver_id is not None and approver_id == asset.uploaded_by:
        reasons.append(Reason("approver_is_uploader", "the approver uploaded this media; a second person must "
                                                      "approve (two-person rule)", "another_approver"))
    return Decision(allowed=not reasons, reasons=reasons)


# -- rule 1: the output ------------------------------------------------------------------------------
def _output_rules(output: Output) -> list[Reason]:
    reasons = [failed] if (failed := _verification_failure(output)) else []
    if output.superseded:
        reasons.append(Reason("output_superseded", "this output was replaced by a newer rendering after review",
                              "request_newest"))
    if output.reviewed_by is None:
        reasons.append(Reason("unreviewed", "no person has reviewed the output and confirmed that no face or "
                                            "other identifier is visible", "review"))
    return reasons


def _identifier_rules(output: Output, asset: Asset) -> list[Reason]:
    """A photo must have been read for the name and reference of the patient whose consent is linked to its
    media now: one rendered before that consent was linked (or before any was) was never read for them."""
    if output.kind != "image" or asset.consent_id is None or output.identifiers_consent_id == asset.consent_id:
        return []
    return [Reason("identifiers_unchecked", "the output was not read for the patient's name and reference of the "
                                            "consent linked to the media (it was rendered before that consent was "
                                            "linked)", "recheck_identifiers")]


def _verification_failure(output: Output) -> Reason | None:
    if output.error or output.blob is None:
        return Reason("verification_failed", "verification failed: "
                      + (output.error or "the de-identified file was not produced"), "review_again")
    if not output.metadata_clean:
        return Reason("verification_failed", "verification failed: metadata outside the allow-list remains in "
                                             "the output", "review_again")
    if not output.keeps_faces and output.faces_left != 0:
        return Reason("verification_failed", "verification failed: the second detector found a face left, or "
                                             "did not run", "review_again")
    return None


# -- rule 2: the consent is signed, active, unexpired --------------------------------------------
def _signature_rules(consent: Consent) -> list[Reason]:
    if consent.signature_valid is False:
        return [Reason("signature_broken", "the consent's digital signature is not intact: the PDF was changed "
                                           "after signing", "new_consent")]
    if consent.signed is False:
        return [Reason("unsigned", "the consent is not signed (a signature place is empty)", "new_consent")]
    if consent.signature_valid is True or consent.signature_attested:
        return []
    return [Reason("unsigned", "the consent has no intact digital signature and no person has attested its "
                               "handwritten signature", "attest_signature")]


def _status_rules(consent: Consent, today: dt.date) -> list[Reason]:
    if consent.status == "revoked":
        return [Reason("revoked", "the patient revoked this consent", "new_consent")]
    if consent.status == "superseded":
        return [Reason("superseded", "a newer consent of the same patient replaced this one", "link_consent")]
    if consent.status == "expired":
        return [Reason("expired", "the consent has expired", "new_consent")]
    if consent.status != "active":
        return [Reason("inactive", f"the consent is {consent.status}", "new_consent")]
    ends = effective_expiry(consent)
    if ends is not None and today >= ends:
        return [Reason("expired", f"the consent expired on {ends.isoformat()}", "new_consent")]
    return []


def effective_expiry(consent: Consent) -> dt.date | None:
    """The earlier of the written date and the one a person confirmed (a person may shorten, never extend)."""
    dates = [d for d in (consent.expires, consent.confirmed_expires) if d is not None]
    return min(dates) if dates else None


# -- rule 3: scope --------------------------------------------------------------------------------------
def _scope_rules(consent: Consent, output: Output, platform: str) -> list[Reason]:
    reasons = []
    if consent.check_error:
        reasons.append(Reason("not_covered", "the consent PDF could not be read, so nothing in it can be relied on",
                              "new_consent"))
    elif consent.social_media == "not_covered":
        reasons.append(Reason("not_covered", "the consent does not cover social media", "new_consent"))
    if consent.confirmed_by is None or consent.confirmed_social_media is not True:
        message = "no person has confirmed the consent's scope from the quoted evidence"
        if consent.social_media == "unclear":
            message = "the consent is unclear about social media and " + message
        reasons.append(Reason("unconfirmed", message, "confirm_scope"))
    if platform not in PLATFORMS:
        reasons.append(Reason("unknown_platform", f"{platform!r} is not a platform Veil knows", "other_platform"))
    excluded = set(consent.excluded_platforms or []) | set(consent.confirmed_excluded or [])
    granted = _granted(consent)
    if platform in excluded:
        reasons.append(Reason("platform_excluded", f"the consent excludes {platform}", "other_platform"))
    elif granted is not None and platform not in granted:
        reasons.append(Reason("platform_not_granted", f"the consent names {', '.join(sorted(granted))} only, "
                                                      f"not {platform}", "other_platform"))
    if output.keeps_faces and consent.identifiable == "deidentified_only":
        reasons.append(Reason("identifiable_not_allowed", "this output keeps faces, but the consent allows "
                                                          "de-identified images only", "deidentify"))
    elif output.keeps_faces and consent.confirmed_identifiable != "allowed":
        reasons.append(Reason("identifiable_not_allowed", "this output keeps faces, and no person confirmed that "
                                                          "the consent allows identifiable images", "confirm_scope"))
    return reasons


def _granted(consent: Consent) -> set[str] | None:
    """Named platforms (the narrower of the document and the confirmation), or None for a general grant."""
    sets = [set(p) for p in (consent.platforms, consent.confirmed_platforms) if p]
    if not sets:
        return None
    granted = sets[0]
    for other in sets[1:]:
        granted &= other
    return granted


# -- after approval ----------------------------------------------------------------------------------------
def standing_reasons(release: Release, output: Output, consent: Consent | None, today: dt.date) -> list[Reason]:
    """Why an approved release no longer lets its file leave Veil (empty when it stands). Every download and
    export asks, not only the approval: a consent ends on its date even before housekeeping turns its
    releases into takedown tasks."""
    reasons = []
    if release.status != "released":
        reasons.append(Reason("not_released", f"the release is {release.status}, not released"))
    elif release.takedown is not None:
        reasons.append(Reason("taken_down", "the release was taken down" if release.takedown == "done"
                              else "a takedown of the release is pending"))
    if failed := _verification_failure(output):
        reasons.append(failed)
    if consent is None:
        reasons.append(Reason("no_consent", "no consent is linked to the release"))
    else:
        reasons += _status_rules(consent, today)
    return reasons
