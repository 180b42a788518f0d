"""Issue 5 in a real browser: the de-identified MP4 plays in Chromium (Debian's build, via Playwright)."""
from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from browser_support import chromium_page
from deid.api import redact_file
from video_fixtures import UPRIGHT_SIZE, phone_clip

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><meta charset="utf-8"><title>playback</title>
<video id="v" src="clip.mp4" muted playsinline preload="auto"></video>
<script>
  const v = document.getElementById('v');
  window.events = [];
  for (const name of ['loadedmetadata', 'loadeddata', 'playing', 'error'])
    v.addEventListener(name, () => window.events.push(name));
</script>"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(folder: Path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_output_plays_in_chromium(tmp_path, grace_hopper):
    clip = phone_clip(tmp_path / "clip.mov", grace_hopper, frames=30, rate=15)
    report = redact_file(clip, tmp_path / "out", "default")
    assert report.error is None, report.error
    site = tmp_path / "site"
    site.mkdir()
    (site / "clip.mp4").write_bytes(Path(report.output).read_bytes())
    (site / "index.html").write_text(PAGE)
    server = serve(site)
    try:
        with chromium_page() as page:
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
            page.wait_for_function("window.events.includes('loadeddata') || window.events.includes('error')")
            assert "error" not in page.evaluate("window.events"), page.evaluate("document.getElementById('v').error")
            size = page.evaluate("[document.getElementById('v').videoWidth, document.getElementById('v').videoHeight]")
            assert tuple(size) == UPRIGHT_SIZE, "the browser shows it upright"
            page.evaluate("document.getElementById('v').play()")
            page.wait_for_function("document.getElementById('v').currentTime > 0.5")
            assert "playing" in page.evaluate("window.events")
            assert abs(page.evaluate("document.getElementById('v').duration") - 2.0) < 0.1
    finally:
        server.shutdown()
