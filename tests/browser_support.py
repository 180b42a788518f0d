"""Real browser tests: the app served by Streamlit, driven by Playwright in Debian's Chromium."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def installation_env(folder: Path) -> dict[str, str]:
    """The variables that point the app at the installation kept in `folder` (its data/ and keys/)."""
    return {"VEIL_DATA_DIR": str(folder / "data"), "VEIL_KEY_FILE": str(folder / "keys" / "keyset.json")}


@contextlib.contextmanager
def streamlit_app(folder: Path):
    """Serve the app on the installation in `folder` with its worker pool (scripts/run.py, what `make run`
    starts; one worker unless VEIL_WORKERS says otherwise) on a free loopback port for the duration of the
    block; yields its URL."""
    port = free_port()
    env = {**os.environ, "VEIL_WORKERS": "1", **installation_env(folder)}
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / f"streamlit-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, "scripts/run.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=45)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("streamlit exited before serving the app; see test-artifacts/streamlit-*.log")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        time.sleep(0.5)
    raise RuntimeError("streamlit did not become healthy in time")


@contextlib.contextmanager
def chromium_page(viewport: dict | None = None, **context_options):
    """A page in Debian's Chromium; `context_options` go to the browser context (e.g. has_touch=True)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(accept_downloads=True, viewport=viewport or {"width": 1400, "height": 1000},
                                          **context_options)
            page = context.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()
