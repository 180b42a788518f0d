"""The jobs panel: the signed-in person's recent jobs with their live progress, cancel and retry, and each
finished file's result and preview as it lands. On the review page, the re-render of the output on screen
(`queue_rerender`, `rerender_progress`): queued, its progress, and the new output chosen once it lands. On
the Consents page, consent PDFs queued for a worker to read (`consent_readings`), each with its state; on
Intake, the panel shows the reading of the consent PDF sent with the files beside them.

It reads the jobs table (records.services.jobs), not the page's memory, so what it shows survives moving to
another page, a reload, signing out and an app restart; the work itself happens in worker processes. While a
job is queued or running the panel refreshes itself every second (a Streamlit fragment), and stops when all
have ended. A finished job's result does not change: its output and decrypted preview are fetched once and
held for as long as the job is on screen, so a refresh reads only the jobs table.
"""
from __future__ import annotations

import datetime as dt

import streamlit as st

from records import services
from ui.fixes import REVIEW_NEXT
from ui.session import FAILED, attempt, rerun_with_note
from ui.views import escape_md, short

REFRESH_SECONDS = 1.0
SHOWN = 20
NAMES = "asset_names"      # this session's uploaded file names by asset id (never stored in clear)
RESULTS = "job_results"    # by output id, for the finished jobs on screen only: {"output": view, "preview": bytes}
WATCHED = "rerender_jobs"  # the re-render jobs this session queued and has not yet seen end
READ_NAMES = "consent_reading_names"   # this session's consent PDF names by job id (never stored)
READINGS_SHOWN = 10


def jobs_panel(rec: services.Records, actor, batch: list[str] | None = None, files: int = 0) -> None:
    """The panel; `batch` lists the job ids of the `files` just sent, whose tally heads it."""
    jobs = attempt("Listing your jobs", services.list_jobs, rec, actor, limit=SHOWN)
    if jobs is FAILED:
        return
    if not jobs:
        st.caption("Nothing queued yet: the files you send appear here with their progress.")
        return
    (_live if any(j.active for j in jobs) else _still)(rec, actor, batch or [], files)


@st.fragment(run_every=REFRESH_SECONDS)
def _live(rec: services.Records, actor, batch: list[str], files: int) -> None:
    jobs = attempt("Listing your jobs", services.list_jobs, rec, actor, limit=SHOWN)
    if jobs is not FAILED:
        if not any(j.active for j in jobs):
            st.rerun(scope="app")   # all ended: the still panel takes over, and the refreshing stops
        _draw(rec, actor, jobs, batch, files)


@st.fragment
def _still(rec: services.Records, actor, batch: list[str], files: int) -> None:
    jobs = attempt("Listing your jobs", services.list_jobs, rec, actor, limit=SHOWN)
    if jobs is not FAILED:
        _draw(rec, actor, jobs, batch, files)


def _draw(rec: services.Records, actor, jobs: list, batch: list[str], files: int) -> None:
    if files:
        of_batch = [j for j in jobs if j.id in batch]
        done, waiting = sum(j.state == "done" for j in of_batch), sum(j.active for j in of_batch)
        st.write(f"{done} of {files} file(s) de-identified and verified; they now wait for review."
                 + (f" {waiting} still in progress." if waiting else ""))
    on_screen = {j.output_id for j in jobs if j.state == "done"}
    held = {oid: kept for oid, kept in st.session_state.get(RESULTS, {}).items() if oid in on_screen}
    st.session_state[RESULTS] = held   # the results of jobs no longer shown are let go
    for job in jobs:
        if job.kind in ("deid", "rerender"):
            _card(rec, actor, job, held)
        elif job.kind == "consent":
            _reading_card(rec, actor, job)


def _reading_card(rec: services.Records, actor, job) -> None:
    """A consent PDF sent to be read (from Intake, with the files it will be linked to, or from Consents)."""
    name = escape_md(_reading_label(job))
    with st.container(border=True):
        st.markdown(f"**{name}** · consent reading")
        if job.state == "queued":
            st.progress(0.0, text="Waiting for a worker to read the consent")
        elif job.state == "running":
            st.progress(min(1.0, job.progress), text=f"Reading the consent · {job.stage or 'starting'}"
                        + (" · cancelling" if job.cancel_requested else ""))
        elif job.state == "done":
            st.success(f"{name}: registered as consent {short(job.consent_id)}; any photos and videos sent with "
                       "it are linked to it.")
            _notes(name, job)
        elif job.state == "failed":
            st.error(f"{name}: consent refused: {_as_said(job.error or 'no reason was recorded').rstrip('.')}. "
                     f"{UNLINKED}")
        else:
            st.info(f"{name}: cancelled; nothing was registered. {UNLINKED}")
        _actions(rec, actor, job)


def _notes(name: str, job) -> None:
    """What the person must know of a consent registered: the checker's findings, a revocation before it."""
    for note in (job.error or "").splitlines():
        st.warning(f"{name}: {_as_said(note)}")


def _as_said(reason: str) -> str:
    """A reading's reason names its file "the consent PDF" (the job keeps no file name); the card names it."""
    return reason.replace(f"{services.READ_AS}: ", "")


UNLINKED = ("Any photos and videos sent with it stay kept without a consent, so they cannot be released; link "
            "them to a consent in Review.")


def _card(rec: services.Records, actor, job, held: dict) -> None:
    name = label(job)
    with st.container(border=True):
        picture, text = st.columns([1, 4])
        with text:
            st.markdown(f"**{escape_md(name)}**")
            if job.state == "queued":
                st.progress(0.0, text="Waiting for a worker")
            elif job.state == "running":
                doing = "Re-rendering" if job.kind == "rerender" else "De-identifying"
                st.progress(min(1.0, job.progress), text=f"{doing} · {job.stage or 'starting'}"
                            + (" · cancelling" if job.cancel_requested else ""))
            elif job.state == "failed":
                st.error(f"{name}: {job.error}")
            elif job.state == "cancelled":
                st.info(f"{name}: cancelled; nothing was kept.")
            output = _result(rec, actor, job, name, held) if job.state == "done" else None
            _actions(rec, actor, job)
        if output is not None:
            _preview(rec, actor, output, name, picture, held[output.id])


def label(job) -> str:
    """The file's name if this session uploaded it, else its kind, when it was queued and its record id; a
    re-render is named by the output it replaces."""
    known = st.session_state.get(NAMES, {}).get(job.asset_id)
    queued = dt.datetime.fromisoformat(job.created_at).astimezone().strftime("%d %b %H:%M")
    if job.kind == "rerender":
        return f"Re-render of output {short(job.replaces_id)}" + (f" ({known})" if known else f" (queued {queued})")
    if known:
        return known
    return f"{'Video' if job.asset_kind == 'video' else 'Photo'} {short(job.asset_id)} (queued {queued})"


def _result(rec: services.Records, actor, job, name: str, held: dict):
    if job.output_id not in held:
        outputs = attempt(f"{name}: result", services.list_outputs, rec, actor, job.asset_id)
        output = next((o for o in outputs if o.id == job.output_id), None) if outputs is not FAILED else None
        if output is None:
            return None
        held[job.output_id] = {"output": output}
    output = held[job.output_id]["output"]
    if output.kind == "image":
        found = f"{len(output.regions)} region(s) redacted"
    else:
        found = f"{output.frames_with_regions or 0} of {output.frames or 0} frame(s) with regions redacted"
    st.success(f"{name}: {found}; {len(output.removed_tags)} metadata tag(s) removed; verified clean (profile "
               f"{output.profile['id']}). It now waits for review.")
    return output


def _actions(rec: services.Records, actor, job) -> None:
    if job.active and not job.cancel_requested:
        if st.button("Cancel", key=f"cancel_{job.id}", icon=":material/cancel:"):
            if attempt("Cancelling", services.cancel_job, rec, actor, job.id) is not FAILED:
                st.rerun()
    elif job.state in ("failed", "cancelled"):
        if st.button("Retry", key=f"retry_{job.id}", icon=":material/replay:"):
            if attempt("Queueing it again", services.retry_job, rec, actor, job.id) is not FAILED:
                st.rerun()


def _preview(rec: services.Records, actor, output, name: str, where, kept: dict) -> None:
    if "preview" not in kept:
        preview = attempt(f"{name}: preview", services.preview_output, rec, actor, output.id)
        if preview is FAILED:
            return
        kept["preview"] = preview
    with where:
        if output.kind == "image":
            st.image(kept["preview"], caption="De-identified", width="stretch")
        else:
            st.video(kept["preview"])


# -- the review page's re-render -------------------------------------------------------------------------------
def queue_rerender(rec: services.Records, actor, output_id: str, adds: list, removals: list) -> None:
    """Queue the re-render for a worker; the page is run again with a note saying so."""
    job = attempt("Queueing the re-render", services.enqueue_rerender, rec, actor, output_id, add_regions=adds,
                  remove_regions=removals)
    if job is not FAILED:
        st.session_state.setdefault(WATCHED, []).append(job.id)
        rerun_with_note("review", f"Re-render queued (job {short(job.id)}): a worker renders and verifies it; the "
                                  "new output appears here when it is done.")


def rerender_progress(rec: services.Records, actor, output_id: str) -> None:
    """Once a re-render this session queued has ended, the page moves to its new output; meanwhile the newest
    re-render of the output on screen shows its progress while queued or running (refreshing itself), or
    why it failed."""
    _show_landed(rec, actor)
    jobs = attempt("Listing its re-renders", services.jobs_replacing, rec, actor, output_id)
    if jobs is FAILED or not jobs:
        return
    if jobs[0].active:
        _rerender_live(rec, actor, jobs[0].id)
    elif jobs[0].state == "failed":
        st.error(f"The re-render of this output failed: {jobs[0].error}")
        _actions(rec, actor, jobs[0])


@st.fragment(run_every=REFRESH_SECONDS)
def _rerender_live(rec: services.Records, actor, job_id: str) -> None:
    job = attempt("Following the re-render", services.get_job, rec, actor, job_id)
    if job is FAILED:
        return
    if not job.active:
        st.rerun(scope="app")   # it ended: the page shows its result, and the refreshing stops
    if job.state == "queued":
        st.progress(0.0, text=f"Re-render queued (job {short(job.id)}): waiting for a worker")
    else:
        st.progress(min(1.0, job.progress), text=f"Re-rendering · {job.stage or 'starting'}")
    _actions(rec, actor, job)


def _show_landed(rec: services.Records, actor) -> None:
    """A re-render this session queued has ended with a new output: show it next, with a note (the page runs
    again). Ended without one, it is let go; its row says why."""
    for job_id in list(st.session_state.get(WATCHED, [])):
        job = attempt("Following the re-render", services.get_job, rec, actor, job_id)
        if job is not FAILED and job.active:
            continue
        st.session_state[WATCHED].remove(job_id)
        outputs = [] if job is FAILED or not job.output_id else attempt(
            "Opening the re-rendered output", services.list_outputs, rec, actor, job.asset_id)
        new = next((o for o in outputs if o.id == job.output_id), None) if outputs is not FAILED else None
        if new is not None:
            st.session_state[REVIEW_NEXT] = new.id
            rerun_with_note("review", f"Re-rendered as output {short(new.id)}: {len(new.regions)} region(s)"
                                      + (f"; verification failed: {new.error}" if new.error else "; verified."))


# -- the Consents page's readings ------------------------------------------------------------------------------
def consent_readings(rec: services.Records, actor) -> None:
    """A form that queues a consent PDF for a worker to read and register, and the person's consent readings
    with their state: waiting, being read, registered (as which consent) or refused (why)."""
    with st.expander("Register a consent PDF", icon=":material/upload_file:"):
        with st.form("queue_consent", clear_on_submit=True):
            pdf = st.file_uploader("Signed consent PDF", type=["pdf"], key="reading_pdf")
            name = st.text_input("Patient's name (as on the consent)", key="reading_name")
            ref = st.text_input("Patient's reference (record number)", key="reading_ref")
            sent = st.form_submit_button("Queue it to be read", icon=":material/schedule_send:")
        st.caption("A worker reads the PDF (text, OCR, signature) and registers it; you may leave this page "
                   "meanwhile.")
    if sent:
        _queue_reading(rec, actor, pdf, name, ref)
    jobs = attempt("Listing your consent readings", services.list_jobs, rec, actor, limit=SHOWN)
    if jobs is FAILED or not any(j.kind == "consent" for j in jobs):
        return
    (_readings_live if any(j.kind == "consent" and j.active for j in jobs) else _readings_still)(rec, actor)


def _queue_reading(rec: services.Records, actor, pdf, name: str, ref: str) -> None:
    if pdf is None:
        st.error("Choose the signed consent PDF first.")
        return
    job = attempt(f"{pdf.name}: queueing it", services.enqueue_consent_reading, rec, actor, pdf.getvalue(), name,
                  ref, file_name=pdf.name)
    if job is not FAILED:
        st.session_state.setdefault(READ_NAMES, {})[job.id] = pdf.name
        st.success(f"{pdf.name}: queued to be read (job {short(job.id)}).")


@st.fragment(run_every=REFRESH_SECONDS)
def _readings_live(rec: services.Records, actor) -> None:
    jobs = attempt("Listing your consent readings", services.list_jobs, rec, actor, limit=SHOWN)
    if jobs is not FAILED:
        readings = [j for j in jobs if j.kind == "consent"]
        if not any(j.active for j in readings):
            st.rerun(scope="app")   # all read: the list of consents above takes in the new ones
        _draw_readings(rec, actor, readings)


@st.fragment
def _readings_still(rec: services.Records, actor) -> None:
    jobs = attempt("Listing your consent readings", services.list_jobs, rec, actor, limit=SHOWN)
    if jobs is not FAILED:
        _draw_readings(rec, actor, [j for j in jobs if j.kind == "consent"])


def _draw_readings(rec: services.Records, actor, readings: list) -> None:
    st.markdown("**Your consent PDFs sent to be read**")
    for job in readings[:READINGS_SHOWN]:
        name = escape_md(_reading_label(job))
        if job.state == "queued":
            st.progress(0.0, text=f"{name}: waiting for a worker")
        elif job.state == "running":
            st.progress(min(1.0, job.progress), text=f"{name}: {job.stage or 'being read'}")
        elif job.state == "done":
            st.success(f"{name}: registered as consent {short(job.consent_id)}; choose it below to confirm its "
                       "scope.")
            _notes(name, job)
        elif job.state == "failed":
            st.error(f"{name}: {job.error}")
        else:
            st.info(f"{name}: cancelled; nothing was registered.")
        _actions(rec, actor, job)


def _reading_label(job) -> str:
    known = st.session_state.get(READ_NAMES, {}).get(job.id)
    queued = dt.datetime.fromisoformat(job.created_at).astimezone().strftime("%d %b %H:%M")
    return known or f"Consent PDF {short(job.id)} (queued {queued})"
