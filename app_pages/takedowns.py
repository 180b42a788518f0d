"""Takedown tasks: each release of a revoked or expired consent must come down from its platform; a
person marks it done once the post is gone."""
import streamlit as st

from records import services
from ui.session import FAILED, attempt, may, open_page, rerun_with_note
from ui.views import short

actor, rec = open_page("takedowns", "Takedown tasks")
releases = attempt("Listing releases", services.list_releases, rec, actor)
if releases is FAILED:
    st.stop()
tasks = sorted((r for r in releases if r.takedown), key=lambda r: (r.takedown != "pending", r.decided_at or ""))
if not tasks:
    st.info("No takedown task. Revoking or the expiry of a consent turns each of its releases into one.")
    st.stop()

pending = sum(r.takedown == "pending" for r in tasks)
st.write(f"{pending} not done, {len(tasks) - pending} done.")
for r in tasks:
    with st.container(border=True):
        done = r.takedown == "done"
        state = ":green-badge[Done]" if done else ":red-badge[Not done]"
        st.markdown(f"{state} **{r.platform}** post of output {short(r.output_id)} · release {short(r.id)} · "
                    f"consent {short(r.consent_id)}")
        st.markdown(f"Post: {r.post_url}" if r.post_url else "Post address was not recorded: find it on the "
                                                             "platform by its look-up (Audit page).")
        if not done and may(actor, "complete_takedown"):
            if st.button("Mark as taken down", key=f"takedown_{r.id}", icon=":material/done:"):
                if attempt("Recording the takedown", services.complete_takedown, rec, actor, r.id) is not FAILED:
                    rerun_with_note("takedowns", f"Takedown of release {short(r.id)} recorded as done.")
