"""New consent, on a tablet: staff enter the patient's details, the patient reads the model form, ticks
their choices and signs with a finger or a stylus; confirming seals the form and registers it like an
upload. Nothing is stored before the patient confirms. Afterwards: the patient's copy, to download or print.

The form is drawn from the same versioned text the PDF is made from, so the patient reads exactly the
words the sealed PDF holds.
"""
import base64
import datetime as dt

import streamlit as st
import streamlit.components.v1 as components
from streamlit_drawable_canvas import st_canvas

from consent.form_versions import LANGUAGES, current_version
from consent.signature_pad import Signature, signature_problem, strokes_from_fabric
from consent.signed_form import AUTOMATIC_FIELDS, STAFF_FIELDS, page_pictures
from records import services
from ui.session import FAILED, attempt, open_page, remember, rerun_with_note
from ui.views import escape_md, short, yes_no

PAD_WIDTH, PAD_HEIGHT = 540, 200   # fits beside the sidebar on a 1024-pixel-wide tablet
STAGE, STAFF, DONE, PAD = "nc_stage", "nc_staff", "nc_done", "nc_pad"

actor, rec = open_page("new_consent", "New consent")


def start_over() -> None:
    for key in [k for k in st.session_state if str(k).startswith("nc_")]:
        del st.session_state[key]


# -- 1. staff: who the patient is, and what the media are ----------------------------------------------------
def staff_stage() -> None:
    st.caption("Fill in the patient's details, then hand the tablet to the patient. Nothing is stored until "
               "the patient signs and confirms.")
    held = st.session_state.get(STAFF, {})
    with st.form("nc_staff_form"):
        languages = list(LANGUAGES)
        language = st.radio("Language of the form", languages, format_func=LANGUAGES.get, horizontal=True,
                            index=languages.index(held.get("language", "en")))
        name = st.text_input("Patient's name", value=held.get("patient_name", ""))
        reference = st.text_input("Patient reference (record number)", value=held.get("patient_reference", ""))
        clinic = st.text_input("Clinic making the disclosure", value=held.get("clinic_name", ""))
        media = st.text_area("Description of the photographs and videos", value=held.get("media_description", ""))
        if st.form_submit_button("Hand the tablet to the patient", type="primary", icon=":material/tablet:"):
            if not name.strip() or not reference.strip():
                st.error("Enter the patient's name and reference (record number).")
                return
            st.session_state[STAFF] = {"language": language, "patient_name": name.strip(),
                                       "patient_reference": reference.strip(), "clinic_name": clinic.strip(),
                                       "media_description": media.strip()}
            st.session_state[STAGE] = "patient"
            st.rerun()


# -- 2. the patient: the form, their choices, their signature -----------------------------------------------
def patient_stage() -> None:
    staff = st.session_state[STAFF]
    version = current_version(staff["language"])
    spec = version.spec
    st.header(spec["title"])
    st.caption(spec.get("subtitle", ""))
    answers: dict = {}
    drawing = None
    for block in spec["block"]:
        kind = block["kind"]
        if kind == "heading":
            st.subheader(block["text"])
        elif kind == "text":
            st.markdown(escape_md(block["text"]))
        elif kind == "checkbox":
            answers[block["name"]] = st.checkbox(block["label"], key=f"nc_{block['name']}")
        elif kind == "boxes":
            for column, name, label in zip(st.columns(len(block["names"])), block["names"], block["labels"]):
                answers[name] = column.checkbox(label, key=f"nc_{name}")
        elif kind == "field":
            answers.update(field_input(block, staff))
        elif kind == "signature":
            st.markdown(f"**{escape_md(block['label'])}**")
            drawing = st_canvas(stroke_width=3, stroke_color="#102060", background_color="#ffffff",
                                height=PAD_HEIGHT, width=PAD_WIDTH, drawing_mode="freedraw",
                                key=f"{PAD}_{st.session_state.get('nc_pad_round', 0)}")
            if st.button("Clear the signature", icon=":material/ink_eraser:"):
                st.session_state["nc_pad_round"] = st.session_state.get("nc_pad_round", 0) + 1
                st.rerun()
    st.divider()
    st.caption(f"Form {version.id} · witness: {actor.username} (signed in) · patient: {staff['patient_name']}")
    back, sign = st.columns([1, 2])
    if back.button("Back to the staff details", icon=":material/arrow_back:"):
        st.session_state[STAGE] = "staff"
        st.rerun()
    if sign.button("I have read this form: sign and confirm", type="primary", icon=":material/draw:"):
        signature = Signature.of(strokes_from_fabric(drawing.json_data if drawing else None), PAD_WIDTH, PAD_HEIGHT)
        problem = signature_problem(signature)
        if problem:
            st.error(f"Not signed: {problem}. Nothing was stored.")
            return
        with st.spinner("Sealing and registering the consent…"):
            view = attempt("Signing the consent", services.sign_consent_in_veil, rec, actor, version_id=version.id,
                           patient_name=staff["patient_name"], patient_ref=staff["patient_reference"],
                           answers={k: v for k, v in answers.items() if k not in STAFF_FIELDS}
                           | {k: staff[k] for k in ("clinic_name", "media_description") if staff[k]},
                           signature=signature)
        if view is not FAILED:
            start_over()
            st.session_state[DONE] = view.id
            st.session_state[STAGE] = "done"
            rerun_with_note("new_consent", f"Signed and sealed; registered as consent {short(view.id)}.")


def field_input(block: dict, staff: dict) -> dict:
    """One line of the form: shown as staff filled it, filled by Veil, or typed by the patient."""
    name, label = block["name"], block["label"]
    if name in STAFF_FIELDS:
        st.markdown(f"{escape_md(label)} **{escape_md(staff.get(name, '')) or '—'}**")
        return {}
    if name in AUTOMATIC_FIELDS:
        st.markdown(f"{escape_md(label)} **{dt.date.today().isoformat()}**")
        return {}
    if name == "expiry_date":
        when = st.date_input(label, value=None, min_value=dt.date.today() + dt.timedelta(days=1), key="nc_expiry")
        return {name: when.isoformat() if when else ""}
    default = staff["patient_name"] if name == "signer_name" else ""
    return {name: st.text_input(label, value=default, key=f"nc_{name}").strip()}


# -- 3. after signing: what was registered, and the patient's copy ------------------------------------------
def done_stage() -> None:
    consent_id = st.session_state[DONE]
    consents = attempt("Listing consents", services.list_consents, rec, actor)
    if consents is FAILED:
        st.stop()
    found = [c for c in consents if c.id == consent_id]
    if not found:
        st.warning(f"Consent {short(consent_id)} is not on record any more, so its summary and the patient's copy "
                   "cannot be shown.")
        st.stop()
    c = found[0]
    st.markdown("\n".join([
        f"- Social media: **{c.social_media.replace('_', ' ')}**",
        f"- Platforms: {', '.join(c.platforms) or 'none named'}",
        f"- Identifiable images: {c.identifiable.replace('_', ' ')}",
        f"- Ends: {c.expires or ('at an event' if c.has_expiry_event else 'no date written')}",
        f"- Signed: {yes_no(c.signed)} · digital seal intact: {yes_no(c.signature_valid, 'none')}",
        f"- Form version: {c.form_version} (text SHA-256 `{c.form_sha256}`)"]))
    st.info("A person in marketing confirms the scope on the Consents page before anything is released.")
    st.subheader("The patient's copy")
    download, printing, again = st.columns(3)
    download.download_button("Download the patient's copy", file_name=f"consent-{short(consent_id)}.pdf",
                             data=lambda: services.view_consent_pdf(rec, actor, consent_id, patient_copy="download"),
                             mime="application/pdf", on_click="ignore", icon=":material/download:", type="primary")
    if printing.button("Print view", icon=":material/print:"):
        st.session_state["nc_print"] = True
    if again.button("Start a new consent", icon=":material/add:"):
        start_over()
        st.rerun()
    if st.session_state.get("nc_print"):
        pdf = remember(f"copy:{consent_id}", lambda: attempt("Opening the patient's copy", services.view_consent_pdf,
                                                             rec, actor, consent_id, patient_copy="print"),
                       slot="nc_copy")
        if pdf is not FAILED:
            print_view(pdf)


def print_view(pdf: bytes) -> None:
    pages = "".join(f'<img alt="page {n}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
                    for n, png in enumerate(page_pictures(pdf), start=1))
    components.html(
        "<style>body{margin:0;font-family:sans-serif} img{width:100%;border:1px solid #ccc;margin-bottom:8px}"
        "@media print{button{display:none} img{border:0;margin:0;page-break-after:always}}</style>"
        f'<button onclick="window.print()" style="font-size:18px;padding:8px 16px;margin:8px 0">Print</button>'
        f"{pages}", height=900, scrolling=True)


stage = st.session_state.get(STAGE, "staff")
if stage == "done" and DONE in st.session_state:
    done_stage()
elif stage == "patient" and STAFF in st.session_state:
    patient_stage()
else:
    staff_stage()
