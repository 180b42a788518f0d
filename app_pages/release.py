"""Release: request a release of a reviewed output for a platform, run the gate (its answer with every
reason, and beside each the action that clears it), download the release package of approved files, and
record the post's address afterwards. This is the only way an output leaves Veil."""
import pandas as pd
import streamlit as st

from records import services
from records.release_gate import PLATFORMS
from records.store import WorkDir
from ui.fixes import offer_fixes
from ui.session import FAILED, attempt, may, open_page, rerun_with_note
from ui.views import short, zip_folder

actor, rec = open_page("release", "Release")
PACKAGE = "release_package"
outputs = attempt("Listing outputs", services.list_outputs, rec, actor)
releases = attempt("Listing releases", services.list_releases, rec, actor)
if outputs is FAILED or releases is FAILED:
    st.stop()
outputs_by_id = {o.id: o for o in outputs}

# -- request ---------------------------------------------------------------------------------------------------
st.subheader("Request a release")
ready = [o for o in reversed(outputs) if o.reviewed and not o.superseded and o.sha256]
if not ready:
    st.info("No reviewed output yet. Outputs appear here once a person has confirmed their review.")
else:
    with st.form("request"):
        output_id = st.selectbox("Reviewed output", [o.id for o in ready],
                                 format_func=lambda i: f"output {short(i)} · {outputs_by_id[i].kind} · profile "
                                                       f"{outputs_by_id[i].profile['id']}")
        platform = st.selectbox("Platform", PLATFORMS)
        if st.form_submit_button("Request the release"):
            made = attempt("Requesting the release", services.request_release, rec, actor, output_id, platform)
            if made is not FAILED:
                rerun_with_note("release", f"Release {short(made.id)} requested for {made.platform}.")

# -- decide ----------------------------------------------------------------------------------------------------
st.subheader("Decide")
open_requests = [r for r in releases if r.status in ("requested", "refused")]
if not open_requests:
    st.caption("No release request is waiting.")
for r in open_requests:
    with st.container(border=True):
        st.markdown(f"**Release {short(r.id)}** · output {short(r.output_id)} · {r.platform} · consent "
                    f"{short(r.consent_id)} · {r.status}")
        if r.status == "refused":   # the release keeps the reasons of the gate's last refusal
            st.error("The gate refused this release:\n" + "\n".join(f"- {m}" for m in r.reasons))
        checks = attempt("Checking the release", services.release_obstacles, rec, actor, r.id)
        if checks is not FAILED:
            offer_fixes(rec, actor, checks, decided=r.status == "refused")
        if may(actor, "approve_release"):
            label = "Check the gate again and approve" if r.status == "refused" else "Check the gate and approve"
            if st.button(label, key=f"approve_{r.id}", type="primary", icon=":material/verified:"):
                decision = attempt("Approving the release", services.approve_release, rec, actor, r.id)
                if decision is not FAILED and decision.allowed:
                    rerun_with_note("release", f"Release {short(r.id)} approved for {r.platform}: every rule holds.")
                elif decision is not FAILED:
                    st.rerun()   # refused: the release now holds the reasons, shown above on the rerun
        else:
            st.caption("Marketing approves releases.")

# -- released ------------------------------------------------------------------------------------------------
st.subheader("Released")
standing = [r for r in releases if r.status == "released" and r.takedown is None]
by_id = {r.id: r for r in standing}
if (package := st.session_state.get(PACKAGE)) and not package[2] <= set(by_id):
    del st.session_state[PACKAGE]   # a release in it was revoked or ended since: its file may no longer leave
    st.warning("The release package built earlier was withdrawn: a release in it no longer stands.")
if not standing:
    st.caption("No standing release.")
else:
    st.dataframe(pd.DataFrame([{"release": short(r.id), "output": short(r.output_id), "platform": r.platform,
                                "consent": short(r.consent_id), "approved": (r.decided_at or "")[:16].replace("T", " "),
                                "post": r.post_url or "not recorded"} for r in standing]),
                 hide_index=True, width="stretch")
    if may(actor, "export_package"):
        chosen = st.multiselect("Files for the release package", list(by_id), default=list(by_id),
                                format_func=lambda i: f"{short(i)} · {by_id[i].platform}", key="package_pick")
        if st.button("Build the release package", disabled=not chosen, icon=":material/inventory_2:"):
            with WorkDir(rec.settings.work_dir) as work:   # swept after a crash, like every work folder
                folder = attempt("Building the release package", services.export_package, rec, actor, chosen, work)
                if folder is not FAILED:
                    st.session_state[PACKAGE] = (f"{folder.name}.zip", zip_folder(folder), set(chosen))
        if package := st.session_state.get(PACKAGE):
            st.download_button("Download the release package (zip)", package[1], file_name=package[0],
                               mime="application/zip", type="primary", icon=":material/download:",
                               key="package_download")
            st.caption("The package holds the released files under their random names and manifest.json "
                       "(checksums, consent, scope, expiry, profile, reviewer, approver); no patient name.")
    if may(actor, "record_post"):
        with st.form("post"):
            st.markdown("**Record where it was posted**")
            rid = st.selectbox("Release", list(by_id), format_func=lambda i: f"{short(i)} · {by_id[i].platform}")
            url = st.text_input("Post address (URL)")
            if st.form_submit_button("Save the post address"):
                if attempt("Recording the post", services.record_post, rec, actor, rid, url) is not FAILED:
                    rerun_with_note("release", f"Post address of release {short(rid)} recorded.")
