"""Run a command under an address-space limit and a hang guard, and read its own peak resident memory.

Linux carries a process's memory high-water mark across fork and exec, so a command started straight from
a pytest worker that has loaded the face models reports the worker's peak, not its own. The command is
therefore started from a small launcher process, which applies the limits, waits for it and writes what
it measured to a file.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

LAUNCHER = r"""
import json, os, resource, subprocess, sys, threading
result_path, address_space, hang_seconds, out_path, err_path, *command = sys.argv[1:]

def limit():
    resource.setrlimit(resource.RLIMIT_AS, (int(address_space), int(address_space)))

with open(out_path, "wb") as out, open(err_path, "wb") as err:
    child = subprocess.Popen(command, stdout=out, stderr=err, preexec_fn=limit)
hung = threading.Event()
guard = threading.Timer(float(hang_seconds), lambda: (hung.set(), child.kill()))
guard.start()
_, status, usage = os.wait4(child.pid, 0)
guard.cancel()
with open(result_path, "w") as result:
    json.dump({"code": os.waitstatus_to_exitcode(status), "peak_bytes": usage.ru_maxrss * 1024,
               "hung": hung.is_set()}, result)
"""


@dataclass
class LimitedRun:
    returncode: int
    stdout: str
    stderr: str
    peak_bytes: int
    hung: bool


def run_limited(command: list[str], *, address_space: int, hang_seconds: float, cwd: Path,
                env: dict | None = None) -> LimitedRun:
    with tempfile.TemporaryDirectory(prefix="veil-run-") as folder:
        result, out, err = (Path(folder) / name for name in ("result.json", "stdout", "stderr"))
        subprocess.run([sys.executable, "-I", "-c", LAUNCHER, str(result), str(address_space), str(hang_seconds),
                        str(out), str(err), *command], cwd=cwd, env=env, check=True, timeout=hang_seconds + 60)
        measured = json.loads(result.read_text())
        return LimitedRun(measured["code"], out.read_text("utf-8", "replace"), err.read_text("utf-8", "replace"),
                          measured["peak_bytes"], measured["hung"])
