"""Consents: a consent PDF queued for a worker to read, and the state of each one queued; each consent with its
status badge and verdict, the quoted evidence highlighted, the scope a person confirms from that evidence, and
revocation with a reason (its releases become takedown tasks)."""
import datetime as dt

import pandas as pd
import streamlit as st

from records import services
from records.release_gate import PLATFORMS
from ui.jobs_panel import consent_readings
from ui.session import FAILED, attempt, may, open_page, remember, rerun_with_note
from ui.views import (BADGES, EVIDENCE_ABOUT, IDENTIFIABLE_WORDS, PLATFORM_NAMES, SOCIAL_MEDIA_SHORT,
                      SOCIAL_MEDIA_WORDS, TEXT_SOURCE_WORDS, badge, confirmed_words, consent_label, consent_state,
                      ends_words, escape_md, highlight, platform_names, platforms_found, short, signature_found,
                      yes_no)

actor, rec = open_page("consents", "Consents")
today = dt.date.today()
if may(actor, "register_consent"):
    consent_readings(rec, actor)   # a PDF queued here is read by a worker; its state is listed here
consents = attempt("Listing consents", services.list_consents, rec, actor)
if consents is FAILED:
    st.stop()
if not consents:
    st.info("No consent is registered yet. Consents are registered at intake, or above.")
    st.stop()

st.dataframe(pd.DataFrame([{
    "consent": short(c.id), "status": BADGES[consent_state(c, today)][0], "registered": c.registered_at[:10],
    "social media": SOCIAL_MEDIA_SHORT[c.social_media],
    "platforms": platform_names(c.confirmed_platforms or c.platforms) or "any",
    "ends": c.effective_expiry or ("at an event" if c.has_expiry_event else "—"),
    "signed": yes_no(c.signed, "?"), "scope confirmed": yes_no(c.confirmed)} for c in consents]),
    hide_index=True, width="stretch")

by_id = {c.id: c for c in consents}
cid = st.selectbox("Consent", list(by_id), format_func=lambda i: consent_label(by_id[i], today), key="consent_pick")
c = by_id[cid]
state = consent_state(c, today)
st.markdown(f"### Consent {short(c.id)} {badge(state)}")

details = remember(f"consent:{c.id}", lambda: attempt("Opening the consent", services.consent_details, rec, actor,
                                                      c.id))
if details is not FAILED:
    st.markdown(f"Patient: **{escape_md(details['patient_name'])}** · reference "
                f"{escape_md(details['patient_ref'])}")

ends_at_event = escape_md(details.get("expires_event") or "") if details is not FAILED else ""
quoted = details.get("platforms_quoted", []) if details is not FAILED else []
verdict, evidence = st.columns(2)
with verdict:
    st.markdown("**The checker found**")
    if c.check_error:
        st.error(f"The PDF could not be read: {c.check_error}")
    st.markdown("\n".join([
        f"- Social media: **{SOCIAL_MEDIA_WORDS[c.social_media]}**",
        f"- Platforms: {platforms_found(c, quoted)}",
        f"- Platforms excluded: {platform_names(c.excluded_platforms) or 'none'}",
        f"- Images: {IDENTIFIABLE_WORDS[c.identifiable]}",
        f"- Ends: {ends_words(c.expires, ends_at_event)}",
        f"- Signature: {signature_found(c)}",
        f"- Signed on: {c.signed_on or 'no date found beside the signature'}",
        f"- Read from: {TEXT_SOURCE_WORDS.get(c.text_source, c.text_source)}"]))
    st.markdown("**What a person confirmed**")
    st.markdown("\n".join(f"- {line}" for line in confirmed_words(c)))
with evidence:
    st.markdown("**Quoted evidence**")
    quotes = details.get("evidence", []) if details is not FAILED else []
    if not quotes:
        st.caption("The checker quoted no passage.")
    for quote in quotes:
        about = EVIDENCE_ABOUT.get(str(quote.get("about", "")), "")
        st.markdown(f"> {highlight(str(quote.get('text', '')))}\n>\n> — page {quote.get('page', '?')}"
                    + (f" · {escape_md(about)}" if about else ""))
    if c.pdf_kept and may(actor, "view_consent_pdf"):
        st.download_button("Open the consent PDF", data=lambda: services.view_consent_pdf(rec, actor, c.id),
                           file_name=f"consent-{short(c.id)}.pdf", mime="application/pdf", key=f"pdf_{c.id}",
                           on_click="ignore", icon=":material/picture_as_pdf:")

if c.status == "active" and may(actor, "confirm_scope"):
    st.subheader("Confirm the scope")
    st.caption("Read the quoted evidence. You may narrow what the document grants, never widen it.")
    with st.form(f"scope_{c.id}"):
        covers = st.checkbox("The quoted evidence grants use on social media", value=c.social_media == "covered")
        options = ["deidentified_only", "allowed"]
        identifiable = st.radio("Identifiable images", options, horizontal=True,
                                index=1 if (c.confirmed_identifiable or c.identifiable) == "allowed" else 0,
                                format_func=lambda v: {"allowed": "allowed (faces may be shown)",
                                                       "deidentified_only": "de-identified only"}[v])
        platforms = st.multiselect("Platforms granted (leave empty when the document grants all social media)",
                                   c.platforms or list(PLATFORMS), format_func=PLATFORM_NAMES.get,
                                   default=c.confirmed_platforms or c.platforms or quoted)   # narrow if unsure
        excluded = st.multiselect("Platforms excluded", list(PLATFORMS), format_func=PLATFORM_NAMES.get,
                                  default=c.confirmed_excluded or c.excluded_platforms)
        ends = st.date_input("Ends on (leave empty when no date is written)",
                             value=dt.date.fromisoformat(c.effective_expiry) if c.effective_expiry else None)
        revoked = details.get("revoked_before") if details is not FAILED else None
        new_authorization = False
        if c.awaits_new_authorization and revoked:
            st.warning(f"This patient revoked consent {short(revoked['consent_id'])} on {revoked['revoked_on']} "
                       f"(by {revoked['revoked_by']}), and "
                       + (f"this document was signed on {c.signed_on}, not after that." if c.signed_on
                          else "no signing date could be read on this document.")
                       + " Look at the document before you confirm it.")
            new_authorization = st.checkbox("This is a new authorization the patient gave after revoking the "
                                            "earlier consent")
        attested = False
        if services.needs_attestation(c):
            attested = st.checkbox(services.ATTESTATION, value=c.signature_attested,
                                   help="The document has no digital signature, so only a person can say it is "
                                        "signed: a grant is confirmed together with this.")
        elif c.signed is False or c.signature_valid is False:
            st.caption("This document is unsigned, or its digital signature is broken: nothing under it can be "
                       "released. Register a signed copy.")
        if st.form_submit_button("Confirm the scope", type="primary"):
            # a refused new authorization is the one error shown: the scope, which needs it, is not asked for
            if not new_authorization or attempt("Confirming a new authorization", services.confirm_new_authorization,
                                                rec, actor, c.id) is not FAILED:
                done = attempt("Confirming the scope", services.confirm_scope, rec, actor, c.id,
                               covers_social_media=covers, identifiable=identifiable, platforms=platforms,
                               excluded_platforms=excluded, expires=ends, signature_attested=attested)
                if done is not FAILED:
                    rerun_with_note("consents", f"Scope of consent {short(c.id)} confirmed.")

if c.status != "revoked" and may(actor, "revoke_consent"):
    st.subheader("Revoke")
    with st.form(f"revoke_{c.id}"):
        reason = st.text_input("Reason (for example: the patient withdrew consent by e-mail on …)")
        if st.form_submit_button("Revoke this consent", icon=":material/block:"):
            if not reason.strip():
                st.error("Give the reason for the revocation.")
            else:
                takedowns = attempt("Revoking the consent", services.revoke_consent, rec, actor, c.id,
                                    reason.strip())
                if takedowns is not FAILED:
                    rerun_with_note("consents", f"Consent {short(c.id)} revoked; {len(takedowns)} release(s) "
                                                "became takedown tasks.")
