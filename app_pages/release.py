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
from ui.thumbnails import beside_picture, data_url, label, output_labels, pictures, show
from ui.views import escape_md, short, zip_folder

actor, rec = open_page("release", "Release")
PACKAGE = "release_package"
outputs = attempt("Listing outputs", services.list_outputs, rec, actor)
releases = attempt("Listing releases", services.list_releases, rec, actor)
if outputs is FAILED or releases is FAILED:
    st.stop()
outputs_by_id = {o.id: o for o in outputs}
ready = [o for o in reversed(outputs) if o.reviewed and not o.superseded and o.sha256]
open_requests = [r for r in releases if r.status in ("requested", "refused")]
standing = [r for r in releases if r.status == "released" and r.takedown is None]
labels = output_labels(rec, actor, [o.id for o in ready] + [r.output_id for r in open_requests + standing],
                       slot="release")


def described(output_id: str) -> str:
    """The output as people know it, and its de-id profile when it is not the default one."""
    profile = outputs_by_id[output_id].profile["id"] if output_id in outputs_by_id else None
    return label(labels.get(output_id)) + (f" · profile {profile}" if profile and profile != "default" else "")


# -- request ---------------------------------------------------------------------------------------------------
st.subheader("Request a release")
if not ready:
    st.info("No reviewed output yet. Outputs appear here once a person has confirmed their review.")
else:
    with st.container(border=True):
        picture, choice = st.columns([1, 5])
        with choice:
            output_id = st.selectbox("Reviewed output", [o.id for o in ready], format_func=described,
                                     key="request_output")
            platform = st.selectbox("Platform", PLATFORMS, key="request_platform")
            if st.button("Request the release", key="request"):
                made = attempt("Requesting the release", services.request_release, rec, actor, output_id, platform)
                if made is not FAILED:
                    rerun_with_note("release", f"Release {short(made.id)} requested for {made.platform}.")
        with picture:
            show(pictures(rec, actor, [output_id]).get(output_id))

# -- decide ----------------------------------------------------------------------------------------------------
st.subheader("Decide")
shown = pictures(rec, actor, [r.output_id for r in open_requests + standing])
if not open_requests:
    st.caption("No release request is waiting.")
for r in open_requests:
    with beside_picture(shown.get(r.output_id)):
        st.markdown(f"**{escape_md(described(r.output_id))}** · for {r.platform} · {r.status}")
        st.caption(f"Release {short(r.id)}")
        if r.status == "refused":   # the release keeps the reasons of the gate's last refusal
            st.error("The gate refused this release:\n" + "\n".join(f"- {m}" for m in r.reasons))
        checks = attempt("Checking the release", services.release_obstacles, rec, actor, r.id)
        if checks is not FAILED:
            offer_fixes(rec, actor, checks, decided=r.status == "refused")
        if may(actor, "approve_release"):
            again = r.status == "refused"
            if st.button("Check the gate again and approve" if again else "Check the gate and approve",
                         key=f"approve_{r.id}", type="primary", icon=":material/verified:"):
                decision = attempt("Approving the release", services.approve_release, rec, actor, r.id)
                if decision is not FAILED and decision.allowed:
                    rerun_with_note("release", f"Release {short(r.id)} approved for {r.platform}: every rule "
                                               "holds.")
                elif decision is not FAILED:
                    st.rerun()   # refused: the release now holds the reasons, shown above on the rerun
        else:
            st.caption("Marketing approves releases.")

# -- released ------------------------------------------------------------------------------------------------
st.subheader("Released")
by_id = {r.id: r for r in standing}
if (package := st.session_state.get(PACKAGE)) and not package[2] <= set(by_id):
    del st.session_state[PACKAGE]   # a release in it was revoked or ended since: its file may no longer leave
    st.warning("The release package built earlier was withdrawn: a release in it no longer stands.")
if not standing:
    st.caption("No standing release.")
else:
    st.dataframe(pd.DataFrame([{"picture": data_url(shown.get(r.output_id)), "media": described(r.output_id),
                                "platform": r.platform, "approved": (r.decided_at or "")[:16].replace("T", " "),
                                "post": r.post_url or "not recorded", "release": short(r.id)} for r in standing]),
                 column_config={"picture": st.column_config.ImageColumn("Picture", width="small")},
                 hide_index=True, width="stretch", row_height=64)
    if may(actor, "export_package"):
        chosen = st.multiselect("Files for the release package", list(by_id), default=list(by_id),
                                format_func=lambda i: f"{described(by_id[i].output_id)} · {by_id[i].platform}",
                                key="package_pick")
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
            rid = st.selectbox("Release", list(by_id),
                               format_func=lambda i: f"{described(by_id[i].output_id)} · {by_id[i].platform}")
            url = st.text_input("Post address (URL)")
            if st.form_submit_button("Save the post address"):
                if attempt("Recording the post", services.record_post, rec, actor, rid, url) is not FAILED:
                    rerun_with_note("release", f"Post address of release {short(rid)} recorded.")
