"""One isolation seam: run a function in a fresh process with limits, and get its result or why not.

Veil's decoders (libjpeg, libheif, FFmpeg, pdfium, Tesseract) are C code fed with files from strangers: a
crash, a memory blow-up or a hang there must cost one file its result, never the command's batch or the
app and its other users. `run` calls a module-level function in a process of its own with

- an address-space limit (an allocation past it fails instead of the machine swapping),
- a silence limit (no `progress` report for N s: killed) and a total deadline,
- its progress reported through a pipe,
- a process group of its own, killed as a whole, so an ExifTool or Tesseract it started dies with it,
- an end together with the process that asked for it (a killed app leaves no worker writing on),

and returns the function's value or raises a typed `Failed` (Crashed, OutOfMemory, FellSilent, Overran)
whose `reason` the caller words into its own message. Each run starts from a clean process, so nothing one
run leaves in memory reaches the next; a caller that hands one run a whole batch (deid's CLI, the app's warm
workers) trades that for loading its models once, and still loses only the file that killed the run.

Start method: the app is a multi-threaded server (Streamlit's threads, onnxruntime's and MediaPipe's
thread pools), and forking a process that runs threads is unsafe (a lock held by another thread stays
locked forever in the child). So workers come from multiprocessing's fork server: a small single-threaded
process started once per host, which has imported the `preload`ed modules and forks one worker per run;
a fork from it is quick and safe. The command lines use the same mechanism (one to test, one to trust),
paying one server start per batch, and call `shut_down` when done. The fork server is not told about the
host's `__main__` (see host._main_hidden).

Standard library only; it imports nothing of Veil's (the layers in .importlinter put it at the bottom).
"""
from isolation.failures import Crashed, Failed, FellSilent, OutOfMemory, Overran
from isolation.host import preload, run, shut_down, start_server
from isolation.worker import progress

__all__ = ["Crashed", "Failed", "FellSilent", "OutOfMemory", "Overran", "preload", "progress", "run",
           "shut_down", "start_server"]
