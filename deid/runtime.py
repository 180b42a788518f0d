"""onnxruntime, set up one way for every network run on it (CenterFace, the text detector and recogniser)."""
from __future__ import annotations

import os

import numpy as np

# onnxruntime's telemetry is on by default on Linux: it writes a session file into TMPDIR, keeps a device id
# under ~/.cache/Microsoft and may send events. Read once, when onnxruntime is imported, so it is set here.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"


def new_session(model: str | bytes):
    """A CPU session of a model (a path, or the serialised graph) on VEIL_THREADS threads (2 by default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get("VEIL_THREADS", "2"))
    # Idle workers sleep instead of spinning: spinning cost 155 ms of CPU per 720p run against 98 ms
    # without, CPU that video decoding and encoding on the same two cores need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")  # idle unless parallel mode
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def share_cores(workers: int) -> None:
    """Processes started after this call give each network the cores left to one of `workers` processes side
    by side (VEIL_THREADS, unless set): on 2 cores, two workers of two threads each took a six-photo batch
    15 % longer than two of one thread each (12.2 s against 10.4 s, medians of 4)."""
    os.environ.setdefault("VEIL_THREADS", str(max(1, (os.cpu_count() or 1) // max(1, workers))))


def run(session, blob: np.ndarray) -> list[np.ndarray]:
    """The session's outputs for `blob` as its one input. An allocation onnxruntime could not make (its
    arena at the process's address-space limit) raises MemoryError, as Python's own would; onnxruntime
    itself says so only in the words of a generic failure."""
    try:
        return session.run(None, {session.get_inputs()[0].name: blob})
    except Exception as exc:  # noqa: BLE001 - onnxruntime's failures share one type; re-raised unless memory
        if "Failed to allocate" in str(exc):
            raise MemoryError("onnxruntime could not allocate memory") from None
        raise
