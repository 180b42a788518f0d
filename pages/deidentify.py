"""Upload photos, see the regions found and the de-identified result side by side, download the results."""
import tempfile
import uuid
from pathlib import Path

import streamlit as st

from deid.api import decode_upright, redact_file
from deid.image import ImageReadError
from deid.preview import regions_overlay
from deid.profile import available_profiles

st.title("De-identify photos")
st.caption("Faces are blurred, every tag and the file name are removed; each output is re-read and verified "
           "before you can download it.")

profile = st.selectbox("De-identification profile", available_profiles(), index=available_profiles().index("default"))
uploads = st.file_uploader("Photos", accept_multiple_files=True, key="uploads")


def process(files) -> list[dict]:
    """Run the engine on each upload inside a private temporary folder that is removed afterwards."""
    results, bar = [], st.progress(0.0, text="Starting…")
    with tempfile.TemporaryDirectory(prefix="veil-") as tmp:
        for index, upload in enumerate(files):
            bar.progress(index / len(files), text=f"De-identifying {index + 1} of {len(files)}: {upload.name}")
            data = upload.getvalue()
            source = Path(tmp) / uuid.uuid4().hex  # the original name never touches the disk
            source.write_bytes(data)
            report = redact_file(source, Path(tmp) / "out", profile, original_name=upload.name)
            results.append(summarise(upload.name, data, report))
        bar.progress(1.0, text=f"Done: {len(files)} file(s)")
    return results


def summarise(name: str, data: bytes, report: dict) -> dict:
    result = {"name": name, "report": report, "preview": None, "output": None}
    try:
        result["preview"] = regions_overlay(decode_upright(data), report["regions"])
    except ImageReadError:
        pass
    if report["output"]:
        result["output"] = Path(report["output"]).read_bytes()
        result["output_name"] = Path(report["output"]).name
    return result


if uploads and st.button(f"De-identify {len(uploads)} file(s)", type="primary"):
    st.session_state["results"] = process(uploads)

for result in st.session_state.get("results", []):
    report = result["report"]
    st.subheader(result["name"])
    if report["filename_warnings"]:
        lines = "\n".join(f"- {w}" for w in report["filename_warnings"])
        st.warning(f"{result['name']}: the original file name may identify the patient; the output gets a "
                   f"new random name.\n{lines}")
    if report["error"]:
        st.error(f"{result['name']}: {report['error']}")
        continue
    left, right = st.columns(2)
    with left:
        st.image(result["preview"], caption=f"Original, {len(report['regions'])} region(s) found")
    with right:
        st.image(result["output"], caption="De-identified and verified")
    st.caption(f"Removed {len(report['removed'])} metadata tag(s). Profile {report['profile']['id']} "
               f"({report['profile']['sha256'][:12]}…).")
    st.download_button("Download", result["output"], file_name=result["output_name"],
                       key=f"dl-{result['output_name']}")
