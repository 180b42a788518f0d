"""Intake: a batch of photos and videos with the patient's consent (a new PDF, or one already registered).
Each file is kept encrypted, de-identified and verified; progress is shown, and each file's warnings and
errors name the file. Outputs are not downloadable here: only an approved release is."""
import datetime as dt
import hashlib

import streamlit as st

from records import services
from deid.profile import available_profiles
from ui.session import FAILED, attempt, open_page, outcome, remember
from ui.views import MEDIA_TYPES, consent_label, escape_md, short, upload_limits

actor, rec = open_page("intake", "Intake")
today = dt.date.today()
RESULTS, NOTES, BUSY = "intake_results", "intake_notes", "intake_busy"
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


def register_consent(notes: list) -> str | None:
    view, failure = outcome("Registering the consent", services.register_consent, rec, actor, pdf.getvalue(),
                            patient_name, patient_ref, file_name=pdf.name)
    if view is FAILED:
        notes.append(("error", failure))
        return None
    if view.existing:
        notes.append(("info", view.notice))
    elif view.social_media != "covered":
        notes.append(("warning", f"{pdf.name}: the checker found social-media use "
                                 f"{view.social_media.replace('_', ' ')}; a release will be refused unless a person "
                                 "confirms a written grant."))
    else:
        notes.append(("success", f"{pdf.name}: registered as consent {short(view.id)}; social-media use covered."))
    if view.notice and not view.existing:
        notes.append(("warning", view.notice))
    return view.id


def process_batch(consent_id: str) -> list[dict]:
    """Keep, de-identify and verify each file; one file's failure never stops the others."""
    results, bar = [], st.progress(0.0, text="Starting…")
    for index, upload in enumerate(files):
        label = f"{index + 1} of {len(files)}: {upload.name}"
        bar.progress(index / len(files), text=f"Keeping {label}")
        result = {"name": upload.name, "warnings": [], "error": None, "asset_id": None, "output": None,
                  "notice": None}
        asset, result["error"] = outcome(upload.name, services.upload_media, rec, actor, upload.getvalue(),
                                         upload.name, consent_id, other_names_confirmed=upload.name in named)
        if asset is FAILED:
            results.append(result)
            continue
        result.update(asset_id=asset.id, warnings=asset.filename_warnings, kind=asset.kind)

        def progress(fraction: float, message: str, index=index, label=label) -> None:
            bar.progress(min(1.0, (index + max(0.0, min(1.0, fraction))) / len(files)),
                         text=f"De-identifying {label} · {message}")

        output, result["error"] = outcome(upload.name, services.process, rec, actor, asset.id, profile,
                                          progress=progress)
        if output is not FAILED:
            result["output"] = output
            result["error"] = f"{upload.name}: {output.error}" if output.error else None
            if output.existing:
                result["notice"] = (f"{upload.name}: already de-identified as output {short(output.id)}; no second "
                                    "copy was made")
        results.append(result)
    return results


def run_batch() -> None:
    """The press: register the consent (or take the chosen one), then the files; what it says is kept for the
    run that follows, which shows the button enabled again."""
    notes = []
    consent_id = chosen or register_consent(notes)
    if not consent_id:
        notes.append(("info", f"{len(files)} file(s) wait for a valid consent: none was kept or processed. "
                              "Upload the signed consent PDF (or choose a registered consent) and press the button "
                              "again."))
        st.session_state[RESULTS] = []
    else:
        st.session_state[RESULTS] = process_batch(consent_id)
        names = st.session_state.setdefault("asset_names", {})   # this session only, to label review items
        names.update({r["asset_id"]: r["name"] for r in st.session_state[RESULTS] if r["asset_id"]})
    st.session_state[NOTES] = notes


if running:
    run_batch()
    st.rerun()
for kind, note in st.session_state.get(NOTES, []):
    getattr(st, kind)(note)
results = st.session_state.get(RESULTS, [])
if results:
    st.progress(1.0, text=f"Done: {len(results)} file(s)")
    st.subheader("3 · Results")
    done = [r for r in results if r["output"] is not None and not r["error"]]
    st.write(f"{len(done)} of {len(results)} file(s) de-identified and verified; they now wait for review.")
for r in results:
    with st.container(border=True):
        picture, text = st.columns([1, 4])
        o = r["output"]
        with text:
            st.markdown(f"**{escape_md(r['name'])}**")
            if r.get("notice"):
                st.info(r["notice"])
            for warning in r["warnings"]:
                st.warning(f"{r['name']}: {warning}. The output gets a new random name.")
            if r["error"]:
                st.error(r["error"])
                continue
            if o.kind == "image":
                found = f"{len(o.regions)} region(s) redacted"
            else:
                found = f"{o.frames_with_regions or 0} of {o.frames or 0} frame(s) with regions redacted"
            st.success(f"{r['name']}: {found}; {len(o.removed_tags)} metadata tag(s) removed; verified clean "
                       f"(profile {o.profile['id']}). It now waits for review.")
        if (preview := r.get("preview")) is None:   # decrypted once per output, not on every rerun of the page
            preview = attempt(f"{r['name']}: preview", services.preview_output, rec, actor, o.id)
        if preview is not FAILED:
            r["preview"] = preview
            with picture:
                if o.kind == "image":
                    st.image(preview, caption="De-identified", width="stretch")
                else:
                    st.video(preview)
if results:
    st.page_link("app_pages/review.py", label="Review the outputs", icon=":material/arrow_forward:")
