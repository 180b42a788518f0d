"""Review: the original (regions drawn, faces and text each in their own colour and named in words) beside
the de-identified output. A person confirms the consent is this patient's, adds a missed region by dragging a
rectangle on the picture (or typing its corners), as a face or mark or as writing, removes a false one (a
T-shirt slogan) from its thumbnail, re-renders, and ticks the checklist before the output counts as reviewed."""
import datetime as dt

import altair as alt
import streamlit as st

from records import services
from deid.api import decode_upright
from ui.fixes import REVIEW_FOCUS, REVIEW_NEXT
from ui.jobs_panel import queue_rerender, rerender_progress
from ui.session import FAILED, attempt, open_page, remember, rerun_with_note
from ui.thumbnails import label as card_label
from ui.thumbnails import output_labels, pictures, show
from ui.views import (CHECKLIST, brushed_box, consent_label, escape_md, picture_of, region_chart, region_legend,
                      region_words, short)

actor, rec = open_page("review", "Review")
today = dt.date.today()
CHOICE, NEXT = "review_choice", REVIEW_NEXT

outputs = attempt("Listing outputs", services.list_outputs, rec, actor)
assets = attempt("Listing media", services.list_assets, rec, actor)
if outputs is FAILED or assets is FAILED:
    st.stop()
assets = {a.id: a for a in assets}
# what waits for review, and an output a refused release sent here (to link its consent or confirm the patient,
# whether or not it was reviewed already)
focus = st.session_state.get(REVIEW_FOCUS)
waiting = {o.id: o for o in reversed(outputs) if not o.superseded and (not o.reviewed or o.id == focus)}
if not waiting:
    st.info("Nothing waits for review. New uploads appear here after intake.")
    st.stop()

labels = output_labels(rec, actor, list(waiting), slot="review")
GALLERY = 12   # pictures shown at the top; the list below holds every output waiting


def label(output_id: str) -> str:
    o = waiting[output_id]
    state = "verification failed" if o.error else f"{len(o.regions)} region(s)"
    return f"{card_label(labels.get(output_id))} · {state}" + (" · reviewed" if o.reviewed else "")


if (chosen := st.session_state.pop(NEXT, None)) in waiting:
    st.session_state[CHOICE] = chosen
current = st.session_state.get(CHOICE) if st.session_state.get(CHOICE) in waiting else next(iter(waiting))
st.caption(f"{len(waiting)} output(s) to review. Choose one by its picture or from the list.")
gallery = list(waiting)[:GALLERY]
shown = pictures(rec, actor, gallery)
for row in range(0, len(gallery), 6):
    for column, oid in zip(st.columns(6), gallery[row:row + 6]):
        with column:
            show(shown.get(oid), caption=card_label(labels.get(oid)))
            st.button("Review this one", key=f"pick_{oid}", disabled=oid == current,
                      on_click=st.session_state.__setitem__, args=(CHOICE, oid))
output_id = st.selectbox("Output to review", list(waiting), format_func=label, key=CHOICE)
o = waiting[output_id]
asset = assets[o.asset_id]

# -- same patient ------------------------------------------------------------------------------------------
st.subheader("Same patient?")
if asset.consent_id is None:
    st.warning("No consent is linked to this media. Link the patient's consent:")
    active = attempt("Listing consents", services.list_consents, rec, actor, "active")
    if active is not FAILED and active:
        by_id = {c.id: c for c in active}
        pick = st.selectbox("Consent", list(by_id), format_func=lambda cid: consent_label(by_id[cid], today),
                            key=f"link_{asset.id}")
        if st.button("Link this consent", key=f"link_go_{asset.id}"):
            if attempt("Linking the consent", services.link_consent, rec, actor, asset.id, pick) is not FAILED:
                st.rerun()
else:
    details = remember(f"consent:{asset.consent_id}", lambda: attempt(
        "Opening the consent", services.consent_details, rec, actor, asset.consent_id))
    if details is not FAILED:
        st.markdown(f"The linked consent {short(asset.consent_id)} was signed for "
                    f"**{escape_md(details['patient_name'])}** (reference {escape_md(details['patient_ref'])}).")
    if asset.patient_confirmed:
        st.success("A person confirmed that this media shows the patient of the consent.")
    elif st.button("Yes: the person in this media is the patient named on the consent", key=f"same_{asset.id}",
                   icon=":material/how_to_reg:"):
        if attempt("Confirming the patient", services.confirm_patient, rec, actor, asset.id) is not FAILED:
            st.rerun()

# -- side by side --------------------------------------------------------------------------------------------
def open_original():
    """What the left column shows, made once per output rather than on every rerun (each tick of the checklist
    reruns the page): a photo decoded and reduced into the region editor's picture, with a thumbnail of each of
    the output's regions cut from the full-resolution original, or a video's bytes."""
    data = attempt("Opening the original", services.view_original, rec, actor, asset.id)
    if data is FAILED or o.kind != "image":
        return data
    rgb = attempt("Reading the original", decode_upright, data)
    return FAILED if rgb is FAILED else picture_of(rgb, o.regions)


st.subheader("Original and de-identified")
if o.error:
    st.error(f"Verification failed: {o.error}")
original = remember(f"original:{o.id}", open_original, slot="review_original")
picture = original if o.kind == "image" and original is not FAILED else None
adds_key, remove_key = f"adds_{o.id}", f"remove_{o.id}"
adds = st.session_state.setdefault(adds_key, [])
corners = [f"corner_{k}_{o.id}" for k in ("x0", "y0", "x1", "y1")]
if picture is not None:
    brush = brushed_box((st.session_state.get(f"draw_{o.id}") or {}).get("selection"), "draw", picture.width,
                        picture.height)
    if brush and brush != st.session_state.get(f"brushed_{o.id}"):
        st.session_state[f"brushed_{o.id}"] = brush      # a new rectangle was dragged: fill the corners
        for key, value in zip(corners, brush):
            st.session_state[key] = value
typed = [int(st.session_state.get(k, 0)) for k in corners]
pending = typed if typed[2] > typed[0] and typed[3] > typed[1] else None
kinds = o.region_kinds or [None] * len(o.regions)    # None: an output made before regions were labelled
drawn_before = [r[:4] for r in o.regions_added]
removals = [r for n, r in enumerate(o.regions, start=1) if st.session_state.get(f"{remove_key}_{n}")]
left, right = st.columns(2)
with left:
    if original is FAILED:
        st.info("The original cannot be shown; regions can no longer be edited.")
    elif picture is None:
        st.video(original)
        st.caption("Original video")
    else:
        editor = region_chart(picture, o.regions, kinds, removals, adds, pending, o.regions_added)
        # the picture's own width and height, padding outside them: Streamlit's default ("fit") squeezes the
        # padding into the height alone, and the picture came out wider than it is
        editor = editor.properties(autosize=alt.AutoSizeParams(type="pad", contains="content"))
        st.altair_chart(editor, on_select="rerun", selection_mode="draw", key=f"draw_{o.id}", width="content")
        st.markdown(region_legend(), unsafe_allow_html=True)
        st.caption("Original, upright; each region numbered and named. Drag a rectangle on the picture to mark a "
                   "region to cover; double-click to clear it.")
with right:
    preview = FAILED if o.error else remember(f"preview:{o.id}", lambda: attempt(
        "Opening the output", services.preview_output, rec, actor, o.id), slot="review_preview")
    if preview is not FAILED:
        if o.kind == "image":
            st.image(preview, caption=f"De-identified and verified · {len(o.regions)} region(s) covered")
        else:
            st.video(preview)
            st.caption(f"De-identified · {o.frames_with_regions or 0} of {o.frames or 0} frame(s) with regions")

# -- edit regions ----------------------------------------------------------------------------------------------
DRAWN_AS = {"manual": "A face, a tattoo or a mark: blurred like faces",
            "text": "Writing or a code: covered solid, like text"}


def add_pending(box: list[int]) -> None:
    as_text = st.session_state.get(f"drawn_as_{o.id}") == "text"
    st.session_state[adds_key] = adds + [box + ["text"] if as_text else box]
    for key in corners:
        st.session_state[key] = 0


def drawn_words(box: list) -> str:
    return f"[{', '.join(map(str, box[:4]))}]" + (" as text" if box[4:] == ["text"] else "")


def region_cards() -> None:
    """A thumbnail of each region, cut from the original, with its number, what it covers and the choice to
    remove it: the decision is made looking at what the region holds."""
    for row in range(0, len(o.regions), 4):
        for column, n in zip(st.columns(4), range(row + 1, min(row + 4, len(o.regions)) + 1)):
            words = region_words(kinds[n - 1], o.regions[n - 1] in drawn_before)
            with column:
                if n <= len(picture.crops):
                    st.image(picture.crops[n - 1], caption=f"#{n} · {words}")
                st.checkbox(f"Remove #{n} ({words})", key=f"{remove_key}_{n}",
                            help="This region covers nothing identifying (a slogan, a pattern): leave it visible.")


if picture is not None:
    st.subheader("Regions")
    if o.regions:
        reread = ("the patient's name and reference from the consent" if asset.consent_id else
                  "what the file name may hold (no consent is linked: the patient's name cannot be checked)")
        st.write("Each region Veil covered, as cut from the original. Remove one only if it holds nothing that "
                 f"identifies anyone; the re-rendered output is read again for {reread}.")
        region_cards()
    st.markdown("**Add a region Veil missed**")
    cols = st.columns(4)
    for col, key, name, limit in zip(cols, corners, ("left x0", "top y0", "right x1", "bottom y1"),
                                     (picture.width, picture.height, picture.width, picture.height)):
        col.number_input(f"{name} (px)", min_value=0, max_value=limit, step=1, key=key)
    st.radio("What the region covers", list(DRAWN_AS), format_func=DRAWN_AS.get, key=f"drawn_as_{o.id}",
             horizontal=True)
    st.button("Add this region", key=f"add_{o.id}", disabled=pending is None, on_click=add_pending, args=(typed,),
              icon=":material/add_box:")
    if adds:
        st.write("Regions you drew: " + ", ".join(drawn_words(b) for b in adds))
        st.button("Forget the regions I drew", key=f"forget_{o.id}",
                  on_click=lambda: st.session_state.update({adds_key: []}))
    if st.button("Re-render with these changes", type="primary", key=f"render_{o.id}",
                 disabled=not (adds or removals), icon=":material/refresh:"):
        queue_rerender(rec, actor, o.id, adds, removals)   # a worker renders it; the page does not wait
    rerender_progress(rec, actor, o.id)
elif o.kind == "video":
    st.info("Regions of a video cannot be edited here. If a face is left, process the video again with another "
            "profile, or do not release it.")

# -- checklist -----------------------------------------------------------------------------------------------
st.subheader("Checklist")
st.write("Veil covers the faces, lines of print, barcodes and QR codes it finds, and withholds an output on which "
         "it can still read the patient's name or reference from the linked consent. It does not look for "
         "tattoos, distinctive marks, jewellery or reflections, and may miss handwriting and very small print: "
         "only your eyes catch those. Look at the de-identified output and tick each item once you are sure it "
         "shows nothing that could identify the patient:")
ticks = [st.checkbox(item, key=f"check_{o.id}_{n}") for n, item in enumerate(CHECKLIST)]
if not all(ticks):
    st.caption(f"{len(CHECKLIST) - sum(ticks)} item(s) left to tick before you can confirm.")
if st.button("Confirm the review", type="primary", key=f"confirm_{o.id}", disabled=not all(ticks) or bool(o.error),
             icon=":material/task_alt:"):
    if attempt("Confirming the review", services.mark_reviewed, rec, actor, o.id) is not FAILED:
        rerun_with_note("review", f"Output {short(o.id)} reviewed: no face or other identifier is visible.")
