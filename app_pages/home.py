"""Start page: what needs this person's attention: the key file's backup until an administrator confirms it,
consents ending within 30 days, open takedown tasks, and the work waiting for their role."""
import datetime as dt
import shlex

import streamlit as st

from records import services
from ui.session import FAILED, attempt, may, open_page, rerun_with_note
from ui.views import EXPIRY_WARNING_DAYS, days_left, expiring_soon, short

actor, rec = open_page("home", None)
today = dt.date.today()
st.title(f"Welcome, {actor.username}")
st.caption(f"Role: {actor.role}")

consents = attempt("Listing consents", services.list_consents, rec, actor)
tasks = attempt("Listing takedown tasks", services.takedown_tasks, rec, actor)
if consents is FAILED or tasks is FAILED:
    st.stop()

if may(actor, "manage_users") and attempt("Checking the key backup", services.key_backup, rec, actor) is None:
    key_file = rec.settings.key_file
    with st.container(border=True):
        st.warning("**Back up the key file.** Without it the encrypted originals, consent PDFs and patient names "
                   "cannot be read again; with it, anyone holding the data folder can read them. Copy it once, now, "
                   "to the clinic's password manager or a sealed offline medium, never beside the data folder (the "
                   "key never changes), and keep the copy readable by its owner only:")
        st.code(f"cp {shlex.quote(str(key_file))} /media/usb/\nchmod 600 /media/usb/{shlex.quote(key_file.name)}",
                language="bash")
        st.caption("Now and then, check the copy against a backup (README, Backup and restore):")
        st.code(f"python -m records backup verify /mnt/nas/veil/{today.isoformat()} --key-file "
                f"/media/usb/{shlex.quote(key_file.name)}", language="bash")
        if st.button("I have backed up the key file", type="primary", icon=":material/key:"):
            if attempt("Recording the key backup", services.confirm_key_backup, rec, actor) is not FAILED:
                rerun_with_note("home", "Key file backup recorded in the audit log; this reminder will not be shown "
                                        "again.")

left, right = st.columns(2)
with left:
    st.subheader(f"Consents ending within {EXPIRY_WARNING_DAYS} days")
    soon = expiring_soon(consents, today)
    if not soon:
        st.success("No consent ends within the next 30 days.")
    for c in soon:
        st.warning(f"Consent {short(c.id)} ends on {c.effective_expiry} ({days_left(c, today)} day(s) left).")
with right:
    st.subheader("Open takedown tasks")
    if not tasks:
        st.success("No takedown task is open.")
    for r in tasks:
        where = r.post_url or "post address not recorded"
        st.error(f"Take down the {r.platform} post of output {short(r.output_id)}: {where}")
    if tasks:
        st.page_link("app_pages/takedowns.py", label="Go to the takedown tasks", icon=":material/arrow_forward:")

st.subheader("Waiting for you")
if may(actor, "review"):
    outputs = attempt("Listing outputs", services.list_outputs, rec, actor)
    if outputs is not FAILED:
        waiting = [o for o in outputs if not o.superseded and not o.reviewed]
        st.write(f"{len(waiting)} output(s) waiting for review.")
        if waiting:
            st.page_link("app_pages/review.py", label="Review them", icon=":material/arrow_forward:")
if may(actor, "confirm_scope"):
    unconfirmed = [c for c in consents if c.status == "active" and not c.confirmed]
    st.write(f"{len(unconfirmed)} active consent(s) whose scope no person has confirmed yet.")
if may(actor, "approve_release"):
    requests = attempt("Listing releases", services.list_releases, rec, actor, "requested")
    if requests is not FAILED:
        st.write(f"{len(requests)} release request(s) waiting for a decision.")
if may(actor, "read_audit"):
    st.page_link("app_pages/audit.py", label="Audit: timeline, chain verification and look-up",
                 icon=":material/arrow_forward:")
