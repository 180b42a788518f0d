"""Beside each rule that stands in the way of a release, the action that clears it: taken right there (the
same patient), one click away on the page where it is done (review, link the consent, confirm the scope,
attest the signature), or said in words with the roles that may do it."""
from __future__ import annotations

import streamlit as st

from records import services
from records.services.recheck import recheck_identifiers
from ui.session import FAILED, PAGE, attempt, remember, rerun_with_note
from ui.views import escape_md

REVIEW_FOCUS = "review_focus"   # an output the Review page lists, reviewed or not
REVIEW_NEXT = "review_next"     # the output the Review page shows first on its next run
CONSENT_PICK = "consent_pick"   # the Consents page's choice of consent
PATIENT_CONFIRMED = "A person confirmed that this media shows the patient of the consent."
NO_IDENTIFIERS = "The output was read again: no name or reference of the consent's patient can be read on it."
WITHHELD = ("The output was read again and is withheld: the patient's name or reference can be read on it. "
            "Cover it by hand on the Review page.")
# the fixes done on another page: the page, the button's words
ELSEWHERE = {"review": ("review", "Review it on the Review page"),
             "review_again": ("review", "Open it on the Review page"),
             "link_consent": ("review", "Link the consent on the Review page"),
             "confirm_scope": ("consents", "Confirm the scope on the Consents page"),
             "attest_signature": ("consents", "Attest the signature on the Consents page"),
             "new_consent": ("intake", "Register a new consent at Intake")}


def offer_fixes(rec: services.Records, actor, checks: services.ReleaseObstacles, *, decided: bool) -> None:
    """What clears each obstacle of one release, once per kind of action. `decided`: the gate refused it
    already (its reasons are shown above), so only the actions are listed; else the rules are named too."""
    if not checks.obstacles:
        if decided:
            st.success("Every rule holds now: check the gate again.")
        return
    st.markdown("**What clears it**" if decided else
                f"**Before approval:** {len(checks.obstacles)} rule(s) do not hold yet")
    offered = set()
    for obstacle in checks.obstacles:
        if not decided:
            st.markdown(f"- {escape_md(obstacle.message)}")
        if obstacle.fix in offered or obstacle.fix is None:
            continue
        offered.add(obstacle.fix)
        if not obstacle.fix_allowed:
            st.caption(f"To clear it: {obstacle.how} ({' or '.join(obstacle.fix_roles)} may do this).")
        elif obstacle.fix == "confirm_patient":
            _same_patient(rec, actor, checks)
        elif obstacle.fix == "recheck_identifiers":
            _read_again(rec, actor, checks)
        elif obstacle.fix in ELSEWHERE:
            _one_click_away(checks, obstacle.fix)
        else:
            st.caption(f"To clear it: {obstacle.how}.")


def _same_patient(rec, actor, checks: services.ReleaseObstacles) -> None:
    """The consent's patient beside the picture (shown with the request): a person confirms it is them."""
    details = remember(f"consent:{checks.consent_id}", lambda: attempt(
        "Opening the consent", services.consent_details, rec, actor, checks.consent_id))
    if details is not FAILED:
        st.markdown(f"The linked consent was signed for **{escape_md(details['patient_name'])}** (reference "
                    f"{escape_md(details['patient_ref'])}). Is this the person in the picture?")
    if st.button("Yes: the person in this media is the patient named on the consent",
                 key=f"fix_patient_{checks.release_id}", icon=":material/how_to_reg:"):
        if attempt("Confirming the patient", services.confirm_patient, rec, actor, checks.asset_id) is not FAILED:
            rerun_with_note("release", PATIENT_CONFIRMED)


def _read_again(rec, actor, checks: services.ReleaseObstacles) -> None:
    """The output read again, here, for the linked consent's patient's name and reference."""
    if st.button("Read the output again for the patient's name and reference", key=f"fix_recheck_{checks.release_id}",
                 icon=":material/document_scanner:"):
        with st.spinner("Reading the output again..."):
            view = attempt("Reading the output again", recheck_identifiers, rec, actor, checks.output_id)
        if view is not FAILED:
            rerun_with_note("release", WITHHELD if view.error else NO_IDENTIFIERS)


def _one_click_away(checks: services.ReleaseObstacles, fix: str) -> None:
    page, words = ELSEWHERE[fix]
    if st.button(words, key=f"fix_{fix}_{checks.release_id}", icon=":material/arrow_forward:"):
        if page == "review":
            st.session_state[REVIEW_FOCUS] = st.session_state[REVIEW_NEXT] = checks.output_id
        elif page == "consents":
            st.session_state[CONSENT_PICK] = checks.consent_id
        st.switch_page(PAGE[page].script)
