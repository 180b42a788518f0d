"""`make run`: the app and its worker pool, started together and stopped together.

    python scripts/run.py [streamlit options...]

Starts `python -m records worker` (VEIL_WORKERS workers, default one per core) and `streamlit run app.py`
with the options given. Ctrl-C or SIGTERM stops both; if either one ends, the other is stopped too, and this
script exits with the status of the one that ended first.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOP_SECONDS = 30


def main(streamlit_options: list[str]) -> int:
    env = {"GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "3", **os.environ}   # MediaPipe's chatter, unless set
    commands = {"workers": [sys.executable, "-m", "records", "worker"],
                "app": [sys.executable, "-m", "streamlit", "run", "app.py", *streamlit_options]}
    stopping, running, code = [], {}, 0
    # before the first start: a signal while the second one starts must not leave the first running
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, _frame: stopping.append(number))
    try:
        for name, command in commands.items():
            running[name] = subprocess.Popen(command, cwd=ROOT, env=env)
        while not stopping:
            ended = [(name, p.returncode) for name, p in running.items() if p.poll() is not None]
            if ended:
                name, code = ended[0]
                print(f"veil: the {name} stopped (status {code}); stopping the rest", file=sys.stderr)
                break
            time.sleep(0.2)
    finally:
        _stop(running.values())
    return code


def _stop(processes) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
