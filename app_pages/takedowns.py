"""Takedown tasks: each release of a revoked or expired consent must come down from its platform; a
person marks it done once the post is gone. Each task shows the picture that was posted, so the post can be
found on the platform; a copy found there can be checked with the look-up at the foot of the page."""
import streamlit as st

from records import services
from ui.lookup import look_up
from ui.session import FAILED, attempt, may, open_page, rerun_with_note
from ui.thumbnails import beside_picture, label, output_labels, pictures
from ui.views import escape_md, short

actor, rec = open_page("takedowns", "Takedown tasks")
releases = attempt("Listing releases", services.list_releases, rec, actor)
if releases is FAILED:
    st.stop()
tasks = sorted((r for r in releases if r.takedown), key=lambda r: (r.takedown != "pending", r.decided_at or ""))
can_look_up = may(actor, "look_up_files")
if not tasks:
    st.info("No takedown task. Revoking or the expiry of a consent turns each of its releases into one.")
else:
    pending = sum(r.takedown == "pending" for r in tasks)
    st.write(f"{pending} not done, {len(tasks) - pending} done.")
labels = output_labels(rec, actor, [r.output_id for r in tasks], slot="takedowns")
shown = pictures(rec, actor, [r.output_id for r in tasks]) if tasks else {}
for r in tasks:
    with beside_picture(shown.get(r.output_id)):
        done = r.takedown == "done"
        state = ":green-badge[Done]" if done else ":red-badge[Not done]"
        st.markdown(f"{state} **{r.platform}** post of {escape_md(label(labels.get(r.output_id)))}")
        st.caption(f"Release {short(r.id)} · consent {short(r.consent_id)}")
        if r.post_url:
            st.markdown(f"Post: {r.post_url}")
        else:
            st.markdown(f"Post address was not recorded: look for this picture on {r.platform}"
                        + ("; to check a copy you found there, drop it in the look-up below." if can_look_up
                           else "."))
        if not done and may(actor, "complete_takedown"):
            if st.button("Mark as taken down", key=f"takedown_{r.id}", icon=":material/done:"):
                if attempt("Recording the takedown", services.complete_takedown, rec, actor, r.id) is not FAILED:
                    rerun_with_note("takedowns", f"Takedown of release {short(r.id)} recorded as done.")

if can_look_up:
    st.subheader("Look-up")
    st.write("Drop a copy of a post (a saved photo or video) to see which output, release and consent it is.")
    look_up(rec, actor, "takedown_lookup_file")
