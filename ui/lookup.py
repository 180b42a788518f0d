"""Look a file up by dropping it: the output, release and consent it belongs to, with the output's picture.
Shown on the Audit page and, for the people who take posts down, on the Takedowns page."""
from __future__ import annotations

import uuid

import streamlit as st

from records import services
from records.store import WorkDir
from ui.session import FAILED, attempt, remember
from ui.thumbnails import beside_picture, label, output_labels, pictures
from ui.views import escape_md, short, upload_limits


def look_up(rec: services.Records, actor, key: str) -> None:
    # any type: a copy found online may carry any name; only its size is bounded
    dropped = st.file_uploader("File to look up", key=key,
                               max_upload_size=upload_limits(rec.settings, st.get_option("server.maxUploadSize")).media)
    if dropped is None:
        return

    def find():
        # in the data folder's work area, swept after a crash; the dropped file's name is never stored
        with WorkDir(rec.settings.work_dir) as work:
            path = work / uuid.uuid4().hex
            path.write_bytes(dropped.getvalue())
            return attempt(f"{dropped.name}: look-up", services.find_file, rec, actor, path)

    # once per dropped file, not on every rerun: each look-up hashes the file and is an audit event
    result = remember(f"lookup:{dropped.file_id}", find, slot=f"lookup:{key}")
    if result is FAILED:
        return
    if not result.matches:
        st.warning(f"{dropped.name}: not found in Veil's records (SHA-256 {result.sha256[:16]}…).")
    found = [m.output_id for m in result.matches if m.output_id]
    labels = output_labels(rec, actor, found, slot=f"lookup:{key}")
    shown = pictures(rec, actor, found) if found else {}
    for m in result.matches:
        with beside_picture(shown.get(m.output_id)):
            _describe(m, labels.get(m.output_id))


def _describe(m, facts) -> None:
    how = "the exact file" if m.how == "sha256" else f"looks alike (distance {m.distance:g} of 64)"
    st.markdown(f"**{m.what.replace('_', ' ')}** · {how} · output {short(m.output_id)} · consent "
                f"{short(m.consent_id)}")
    st.markdown(escape_md(label(facts)))
    if m.consent:
        c = m.consent
        st.markdown(f"Consent {short(c['id'])}: **{c['status']}**, social media "
                    f"{c['social_media'].replace('_', ' ')}, platforms "
                    f"{', '.join(c['platforms'] or []) or 'any not excluded'}, ends "
                    f"{c['expires'] or 'no date'}, scope confirmed: {'yes' if c['confirmed'] else 'no'}")
    if m.releases:
        st.markdown("\n".join(
            f"- Release {short(r['id'])}: **{r['status']}** for {r['platform']}"
            + (f" on {r['released_at'][:10]}" if r["released_at"] else "")
            + (f" · post {r['post_url']}" if r["post_url"] else "")
            + (f" · takedown {r['takedown']}" if r["takedown"] else "") for r in m.releases))
    else:
        st.caption("Never released.")
