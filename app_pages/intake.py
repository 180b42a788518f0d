"""Intake: a batch of photos and videos with the patient's consent (a new PDF, or one already registered).
Each file is kept encrypted and queued; worker processes de-identify and verify it while the jobs panel shows
its progress (leaving the page stops nothing). A new consent PDF is read by a worker too: the files are kept
and queued at once, and linked to the consent once it is registered (refused, they stay without one, and can
be linked in Review). Each file's warnings and errors name the file. Outputs are not downloadable here: only
an approved release is."""
import datetime as dt
import hashlib

import streamlit as st

from records import services
from deid.profile import available_profiles
from ui.jobs_panel import NAMES, READ_NAMES, jobs_panel
from ui.session import FAILED, attempt, open_page, outcome, remember
from ui.views import MEDIA_TYPES, consent_label, escape_md, short, upload_limits

actor, rec = open_page("intake", "Intake")
today = dt.date.today()
BUSY, BATCH = "intake_busy", "intake_batch"
LIMITS = upload_limits(rec.settings, st.get_option("server.maxUploadSize"))

st.caption("Upload a patient's photos and videos with their consent. Faces are blurred, every tag and the file "
           "name are removed, and each output is re-read and verified before it is kept.")

st.subheader("1 · The patient's consent")
mode = st.radio("Consent", ["Upload the signed consent PDF", "Use a consent already registered"],
                key="intake_mode", horizontal=True, label_visibility="collapsed")
pdf = patient_name = patient_ref = chosen = patient = None
if mode.startswith("Upload"):
    pdf = st.file_uploader("Consent PDF", type=["pdf"], key="intake_pdf", max_upload_size=LIMITS.pdf)
    name_col, ref_col = st.columns(2)
    patient_name = name_col.text_input("Patient's name (as on the consent)", key="intake_patient_name").strip()
    patient_ref = ref_col.text_input("Patient reference (record number)", key="intake_patient_ref").strip()
    patient = (patient_name, patient_ref)
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
            patient = (details["patient_name"], details["patient_ref"])

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

# names in the files' names that are not the patient's: compared here, in memory, and never kept
named = {f.name: found for f in files or [] if patient and (found := services.others_named(f.name, *patient))}
for name, found in named.items():
    st.warning(f"**{escape_md(name)}** names {escape_md(', '.join(found))}, which match neither the name nor the "
               f"reference of this consent's patient ({escape_md(patient[0])}). Check that the file shows this "
               "patient before you go on; someone else's photo must not be published under this consent.")
going_on = not named or st.checkbox("These files show this consent's patient: go on",
                                    key="intake_go_on_" + hashlib.sha256("/".join(named).encode()).hexdigest()[:16])
consent_ready = bool(chosen) or bool(pdf and patient_name and patient_ref)
if files and not consent_ready:
    st.caption("Add the consent (the PDF with the patient's name and reference, or a registered one) to continue.")
action = "Register and de-identify" if mode.startswith("Upload") else "De-identify"
running = st.session_state.pop(BUSY, False)   # set by the press itself, so it never outlives this run
st.button(f"{action} {len(files or [])} file(s)", type="primary", key="intake_go",
          disabled=running or not (files and consent_ready and going_on) or too_many,
          on_click=lambda: st.session_state.update({BUSY: True}))


def known_consent(notes: list):
    """The consent this very PDF was registered as for this patient, found without reading it; None when it
    is new (a worker reads it), FAILED when it is refused without reading (not a PDF, revoked, another
    patient's): then no file is kept."""
    view, failure = outcome("Checking the consent", services.registered_already, rec, actor, pdf.getvalue(),
                            patient_name, patient_ref, file_name=pdf.name)
    if view is FAILED:
        notes.append(("error", failure))
    elif view is not None:
        notes.append(("info", view.notice))
    return view if view is FAILED or view is None else view.id


def send_batch(consent_id: str | None) -> dict:
    """Keep each file encrypted and queue it for the workers; one file's refusal never stops the others. The
    page returns at once: the jobs panel below shows the work as the workers do it. Without `consent_id` (its
    PDF waits to be read) the files' names are checked against the patient as typed."""
    batch = {"files": len(files), "jobs": [], "notes": [], "assets": []}
    names = st.session_state.setdefault(NAMES, {})   # this session only, to label jobs and review items
    for upload in files:
        asset, error = outcome(upload.name, services.upload_media, rec, actor, upload.getvalue(), upload.name,
                               consent_id, other_names_confirmed=upload.name in named,
                               patient=None if consent_id else patient)
        if asset is FAILED:
            batch["notes"].append(("error", error))
            continue
        names[asset.id] = upload.name
        batch["notes"] += [("warning", f"{upload.name}: {w}. The output gets a new random name.")
                           for w in asset.filename_warnings]
        if asset.existing:
            batch["notes"].append(("info", f"{upload.name}: kept already under this consent; no second copy was "
                                           "made (its de-identification is not repeated)"))
        batch["assets"].append(asset.id)
    if batch["assets"]:
        jobs, error = outcome("Queueing the files", services.enqueue_processing, rec, actor, batch["assets"],
                              profile)
        if jobs is FAILED:
            batch["notes"].append(("error", error))
        else:
            batch["jobs"] = [j.id for j in jobs]
    return batch


def queue_reading(batch: dict) -> None:
    """Queue the consent PDF for a worker to read, with the files just kept to link to it once registered."""
    kept = batch["assets"]
    job, failure = outcome("Queueing the consent", services.enqueue_consent_reading, rec, actor, pdf.getvalue(),
                           patient_name, patient_ref, file_name=pdf.name, link_assets=kept)
    if job is FAILED:
        batch["notes"].insert(0, ("error", f"{failure}. The {len(kept)} file(s) kept stay without a consent, so "
                                           "they cannot be released: link them to a consent in Review."))
        return
    st.session_state.setdefault(READ_NAMES, {})[job.id] = pdf.name
    batch["reading"] = job.id
    batch["notes"].insert(0, ("info", f"{pdf.name}: queued to be read by a worker (job {short(job.id)}); the "
                                      f"{len(kept)} file(s) kept are de-identified meanwhile and linked to the "
                                      "consent once it is registered. Its reading is shown below."))


def run_batch() -> None:
    """The press: take the chosen consent (or the one this PDF already is), or keep and queue the files and
    then the consent PDF's reading; what it says is kept for the run that follows, which shows the button
    enabled again. Nothing here reads the PDF: a worker does."""
    notes = []
    consent_id = chosen or known_consent(notes)
    if consent_id is FAILED:
        notes.append(("info", f"{len(files)} file(s) wait for a valid consent: none was kept or processed. "
                              "Upload the signed consent PDF (or choose a registered consent) and press the button "
                              "again."))
        st.session_state[BATCH] = {"files": len(files), "jobs": [], "notes": notes}
        return
    batch = send_batch(consent_id)
    if consent_id is None:
        queue_reading(batch)
    batch["notes"] = notes + batch["notes"]
    st.session_state[BATCH] = batch


if running:
    run_batch()
    st.rerun()
st.subheader("3 · Progress and results")
batch = st.session_state.get(BATCH, {})
for level, note in batch.get("notes", []):
    getattr(st, level)(note)
jobs_panel(rec, actor, batch.get("jobs"), batch.get("files", 0))
if batch:
    st.page_link("app_pages/review.py", label="Review the outputs", icon=":material/arrow_forward:")
