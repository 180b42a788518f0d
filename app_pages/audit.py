"""Audit: the event timeline, chain verification, look-up by dropping any file, exports, and charts of
what was released under which consent and which consents end soon."""
import datetime as dt

import altair as alt
import pandas as pd
import streamlit as st

from records import services
from ui.lookup import look_up
from ui.session import FAILED, attempt, open_page
from ui.views import days_left, events_csv, events_frame, events_json, expiring_soon, short

actor, rec = open_page("audit", "Audit")
today = dt.date.today()
TIMELINE_PAGE = 200   # events per page of the timeline
timeline_tab, verify_tab, lookup_tab, charts_tab = st.tabs(["Timeline", "Chain verification", "Look-up", "Charts"])

with verify_tab:
    st.write("Every event holds the hash of the one before it, sealed with the installation key: an edited, "
             "removed or reordered event breaks the chain at that point.")
    if st.button("Verify the chain", type="primary", icon=":material/link:"):
        verdict = attempt("Verifying the audit chain", services.verify_audit, rec, actor)
        if verdict is not FAILED:
            (st.success if verdict.ok else st.error)(str(verdict))

with timeline_tab:
    pick_col, subject_col = st.columns(2)
    subject = subject_col.text_input("Record id (or its first characters)", key="audit_subject").strip().lower()
    filters = {"actions": st.session_state.get("audit_actions") or None, "subject_prefix": subject or None}
    summary = attempt("Reading the audit log", services.audit_summary, rec, actor, **filters)
    if summary is not FAILED:
        total, actions = summary
        pick_col.multiselect("Actions", actions, key="audit_actions")
        pages = max(1, -(-total // TIMELINE_PAGE))
        if st.session_state.get("audit_page", 1) > pages:   # fewer pages since the filters changed
            st.session_state["audit_page"] = 1
        page = st.number_input(f"Page (of {pages}; {total} matching events, newest first)", min_value=1,
                               max_value=pages, value=1, step=1, key="audit_page") if pages > 1 else 1
        # one page from the database, not the whole log on every rerun
        shown = attempt("Reading the audit log", services.audit_events, rec, actor, limit=TIMELINE_PAGE,
                        offset=(page - 1) * TIMELINE_PAGE, **filters)
        if shown is not FAILED:
            st.dataframe(events_frame(shown), hide_index=True, width="stretch")
        csv_col, json_col = st.columns(2)
        stamp = today.isoformat()

        def matching() -> list[dict]:   # every matching event, read when an export is clicked
            return services.audit_events(rec, actor, **filters)

        csv_col.download_button("Export CSV", lambda: events_csv(matching()), file_name=f"veil-audit-{stamp}.csv",
                                mime="text/csv", icon=":material/download:", on_click="ignore")
        json_col.download_button("Export JSON", lambda: events_json(matching()),
                                 file_name=f"veil-audit-{stamp}.json", mime="application/json",
                                 icon=":material/download:", on_click="ignore")

with lookup_tab:
    st.write("Drop any file (a published photo or video, a downloaded copy, a consent PDF) to find the output, "
             "release and consent it belongs to. Re-encoded or resized copies are matched by their look.")
    look_up(rec, actor, "lookup_file")

with charts_tab:
    releases = attempt("Listing releases", services.list_releases, rec, actor, "released")
    consents = attempt("Listing consents", services.list_consents, rec, actor, "active")
    if releases is not FAILED:
        st.markdown("**What was released under which consent**")
        if releases:
            frame = pd.DataFrame([{"consent": short(r.consent_id), "platform": r.platform,
                                   "state": "taken down" if r.takedown == "done" else
                                   "takedown pending" if r.takedown else "standing"} for r in releases])
            st.altair_chart(alt.Chart(frame).mark_bar().encode(
                y=alt.Y("consent:N", title="Consent"),
                x=alt.X("count():Q", title="Releases", axis=alt.Axis(tickMinStep=1, format="d")),
                color=alt.Color("platform:N", title="Platform"), tooltip=["consent", "platform", "state",
                                                                           "count()"]), width="stretch")
        else:
            st.caption("Nothing released yet.")
    if consents is not FAILED:
        st.markdown("**Consents ending within 90 days**")
        ending = [{"consent": short(c.id), "days left": days_left(c, today), "ends": c.effective_expiry}
                  for c in expiring_soon(consents, today, days=90)]
        if ending:
            frame = pd.DataFrame(ending)
            st.altair_chart(alt.Chart(frame).mark_bar().encode(
                y=alt.Y("consent:N", sort="x", title="Consent"), x=alt.X("days left:Q", title="Days left"),
                color=alt.condition(alt.datum["days left"] <= 30, alt.value("#dc2626"), alt.value("#0f766e")),
                tooltip=["consent", "ends", "days left"]), width="stretch")
        else:
            st.caption("No active consent ends within 90 days.")
