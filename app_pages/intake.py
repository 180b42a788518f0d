"""Intake: a batch of photos and videos with the patient's consent (a new PDF, or one already registered).
Each file is kept encrypted and queued; worker processes de-identify and verify it while the jobs panel shows
its progress (leaving the page stops nothing). Each file's warnings and errors name the file. Outputs are not
downloadable here: only an approved release is."""
import datetime as dt

import streamlit as st

from records import services
from deid.profile import available_profiles
from ui.jobs_panel import NAMES, jobs_panel
from ui.session import FAILED, attempt, open_page, outcome, remember
from ui.views import MEDIA_TYPES, consent_label, escape_md, short, upload_limits

actor, rec = open_page("intake", "Intake")
today = dt.date.today()
BATCH = "intake_batch"
LIMITS = upload_limits(rec.settings, st.get_option("server.maxUploadSize"))

st.caption("Upload a patient's photos and videos with their consent. Faces are blurred, every tag and the file "
           "name are removed, and each output is re-read and verified before it is kept.")

st.subheader("1 · The patient's consent")
mode = st.radio("Consent", ["Upload the signed consent PDF", "Use a consent already registered"],
                key="intake_mode", horizontal=True, label_visibility="collapsed")
pdf = patient_name = patient_ref = chosen = None
if mode.startswith("Upload"):
    pdf = st.file_uploader("Consent PDF", type=["pdf"], key="intake_pdf", max_upload_size=LIMITS.pdf)
    name_col, ref_col = st.columns(2)
    patient_name = name_col.text_input("Patient's name (as on the consent)", key="intake_patient_name").strip()
    patient_ref = ref_col.text_input("Patient reference (record number)", key="intake_patient_ref").strip()
else:
    active = attempt("Listing consents", services.list_consents, rec, actor, "active")
    if active is FAILED:
        st.stop()
    if not active:
        st.info("No active consent is registered yet; upload the consent PDF instead.")
    by_id = {c.id: c for c in active}
    chosen = st.selectbox("Consent", list(by_id), format_func=lambda cid: consent_label(by_id[cid], today),
                          index=None, placeholder="Choose a consent", key="intake_consent")
    if chosen:
        details = remember(f"consent:{chosen}", lambda: attempt("Opening the consent", services.consent_details,
                                                                  rec, actor, chosen))
        if details is not FAILED:
            st.info(f"Patient on this consent: **{escape_md(details['patient_name'])}** "
                    f"(reference {escape_md(details['patient_ref'])})")

st.subheader("2 · Photos and videos")
files = st.file_uploader("Photos and videos", type=MEDIA_TYPES, accept_multiple_files=True, key="intake_media",
                         max_upload_size=LIMITS.media,
                         help=f"JPEG, PNG, HEIC, WebP, AVIF, TIFF photos up to {LIMITS.photo} MB; MP4, MOV, WebM, MKV "
                              f"videos up to {LIMITS.video} MB; at most {LIMITS.batch_files} files at a time. "
                              "Content decides, not the file name.")
too_many = len(files or []) > LIMITS.batch_files
if too_many:
    st.error(f"{len(files)} files are more than the {LIMITS.batch_files} one batch may hold (uploads "
             "are held in memory until they are kept); remove some and add them in a second batch.")
profiles = available_profiles()
profile = st.selectbox("De-identification profile", profiles, index=profiles.index("default"), key="intake_profile",
                       help="'default' redacts every face; 'identifiable' keeps faces (released only under a "
                            "consent that allows identifiable images) and still strips all metadata and names.")

consent_ready = bool(chosen) or bool(pdf and patient_name and patient_ref)
if files and not consent_ready:
    st.caption("Add the consent (the PDF with the patient's name and reference, or a registered one) to continue.")
action = "Register and de-identify" if mode.startswith("Upload") else "De-identify"
go = st.button(f"{action} {len(files or [])} file(s)", type="primary", key="intake_go",
               disabled=not (files and consent_ready) or too_many)


def register_consent() -> str | None:
    view = attempt(f"{pdf.name}: registering the consent", services.register_consent, rec, actor, pdf.getvalue(),
                   patient_name, patient_ref)
    if view is FAILED:
        return None
    if view.check_error:
        st.error(f"{pdf.name}: the consent could not be read ({view.check_error}); nothing in it can be relied "
                 "on, so a release will be refused.")
    elif view.social_media != "covered":
        st.warning(f"{pdf.name}: the checker found social-media use {view.social_media.replace('_', ' ')}; a "
                   "release will be refused unless a person confirms a written grant.")
    else:
        st.success(f"{pdf.name}: registered as consent {short(view.id)}; social-media use covered.")
    return view.id


def send_batch(consent_id: str) -> dict:
    """Keep each file encrypted and queue it for the workers; one file's refusal never stops the others. The
    page returns at once: the jobs panel below shows the work as the workers do it."""
    batch = {"files": len(files), "jobs": [], "notes": []}
    kept = []
    names = st.session_state.setdefault(NAMES, {})   # this session only, to label jobs and review items
    for upload in files:
        asset, error = outcome(upload.name, services.upload_media, rec, actor, upload.getvalue(), upload.name,
                               consent_id)
        if asset is FAILED:
            batch["notes"].append(("error", error))
            continue
        names[asset.id] = upload.name
        batch["notes"] += [("warning", f"{upload.name}: {w}. The output gets a new random name.")
                           for w in asset.filename_warnings]
        kept.append(asset.id)
    if kept:
        jobs, error = outcome("Queueing the files", services.enqueue_processing, rec, actor, kept, profile)
        if jobs is FAILED:
            batch["notes"].append(("error", error))
        else:
            batch["jobs"] = [j.id for j in jobs]
    return batch


if go:
    consent_id = chosen or register_consent()
    if consent_id:
        st.session_state[BATCH] = send_batch(consent_id)

st.subheader("3 · Progress and results")
batch = st.session_state.get(BATCH, {})
for level, note in batch.get("notes", []):
    (st.error if level == "error" else st.warning)(note)
jobs_panel(rec, actor, batch.get("jobs"), batch.get("files", 0))
if batch:
    st.page_link("app_pages/review.py", label="Review the outputs", icon=":material/arrow_forward:")
