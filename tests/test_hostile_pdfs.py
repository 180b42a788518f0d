"""Hostile PDFs for `python -m consent check`: empty, damaged, encrypted, enormous or full of
JavaScript. Each is checked by the real CLI in a subprocess, in one batch with a good consent, under
a memory limit and a hang guard. Each gets an entry naming the file and saying why (an error, or
"unclear" with the reason), with no traceback and no quoted bytes; the good consent is still covered.

Every file is written here, by hand or with pypdf/fpdf2: the damage no PDF library would write.
"""
from __future__ import annotations

import json
import os
import sys
import zlib
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw, ImageFont

from consent_fixtures import FONT, encrypt, raw_pdf, text_pdf, write
from limited_run import run_limited

ROOT = Path(__file__).resolve().parent.parent
CLI_MEMORY = 3 * 1024 ** 3  # address space of the CLI; a normal check maps about 250 MB
PEAK_RSS_BOUND = 1024 ** 3  # resident memory of the CLI and its reader, whatever the file
HANG_GUARD_S = 240  # a case still running after this is a hang
PLANTED = b"Rosa Planted Patient"  # written into hostile files; never in an error or on stderr

GOOD = text_pdf("CONSENT TO PHOTOGRAPHY\n"
                "I authorize the clinic to post my photographs on Instagram and Facebook.\n"
                "Signature: Jane Roe   Date: 2025-01-01")
GRANT = b"I authorize the clinic to post my photographs on Instagram. " + PLANTED


# ------------------------------------------------------------------------------- hand-made PDFs

def stream(entries: bytes, data: bytes) -> bytes:
    return b"<< %s /Length %d >>\nstream\n%s\nendstream" % (entries, len(data), data)


def text_ops(text: bytes = GRANT, x: int = 72, y: int = 720) -> bytes:
    return b"BT /F1 11 Tf %d %d Td (%s) Tj ET " % (x, y, text)


HELVETICA = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def one_page(*, content: bytes | None = None, page: bytes = b"", catalog: bytes = b"",
             mediabox: bytes = b"[0 0 612 792]", objects: tuple[bytes, ...] = ()) -> bytes:
    """Objects: 1 catalog, 2 page list, 3 the page, 4 its content, 5 Helvetica, 6... `objects`."""
    content = stream(b"", text_ops()) if content is None else content
    xobject = b"/XObject << /Im0 6 0 R >>" if b"/Im0" in content else b""
    return raw_pdf(b"<< /Type /Catalog /Pages 2 0 R %s >>" % catalog,
                   b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                   b"<< /Type /Page /Parent 2 0 R /MediaBox %s /Contents 4 0 R "
                   b"/Resources << /Font << /F1 5 0 R >> %s >> %s >>" % (mediabox, xobject, page),
                   content, HELVETICA, *objects)


def image_page(width: int, height: int, flate_data: bytes, size: int = 612) -> bytes:
    """A page covered by one grey image (a scan), drawn `size` points square."""
    return one_page(mediabox=b"[0 0 %d %d]" % (size, size),
                    content=stream(b"", b"q %d 0 0 %d 0 0 cm /Im0 Do Q" % (size, size)),
                    objects=(stream(b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                                    b"/BitsPerComponent 8 /Filter /FlateDecode" % (width, height), flate_data),))


def zlib_bomb(size: int, chunk: bytes = b"\0" * (1 << 20)) -> bytes:
    """A valid zlib stream of `size` bytes of `chunk`, a few MB compressed: after a full flush each
    chunk compresses to the same bytes, so one is repeated instead of compressing gigabytes."""
    compressor = zlib.compressobj(9)
    first = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    checksum = 1
    for _ in range(size // len(chunk)):
        checksum = zlib.adler32(chunk, checksum)
    return first + again * (size // len(chunk) - 1) + b"\x03\x00" + checksum.to_bytes(4, "big")


def thousands_of_pages(count: int = 5000) -> bytes:
    kids = b" ".join(b"%d 0 R" % (4 + k) for k in range(count))
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R >>"
    return raw_pdf(b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
                   stream(b"", text_ops()), *[page] * count)


def ticked_box_page(side: int, page: bytes = b"") -> bytes:
    """A grant whose platform is a drawn box, ticked, on a page `side` points square."""
    box = b"0 0 0 RG 72 690 10 10 re S 73.5 691.5 m 80.5 698.5 l S 73.5 698.5 m 80.5 691.5 l S "
    ops = text_ops(b"I authorize the clinic to post my photographs on:") + box + text_ops(b"Instagram", 90, 691)
    return one_page(mediabox=b"[0 0 %d %d]" % (side, side), page=page, content=stream(b"", ops))


def huge_scan(pixels: int = 6000, side: int = 14400) -> bytes:
    """The largest page a PDF allows (200 inches), one scanned image of 36 megapixels."""
    image = Image.new("L", (pixels, pixels), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), pixels // 60)
    for row, line in enumerate(["CONSENT", "I authorize the clinic to post my", "photographs on Instagram."]):
        draw.text((pixels // 20, pixels // 20 + row * pixels // 40), line, fill=0, font=font)
    return image_page(pixels, pixels, zlib.compress(image.tobytes(), 6), size=side)


def truncated(fraction: float) -> bytes:
    return GOOD[:int(len(GOOD) * fraction)]


def damaged_startxref() -> bytes:
    return GOOD[:GOOD.rfind(b"startxref")] + b"startxref\n999999\n%%EOF\n"


def without_xref_and_trailer() -> bytes:
    return GOOD[:GOOD.rfind(b"\nxref\n")] + b"\n%%EOF\n"


def with_kids(kids: bytes, count: int) -> bytes:
    """A page list naming `kids`; object 3 is a sound page."""
    return raw_pdf(b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
                   b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                   b"/Resources << /Font << /F1 5 0 R >> >> >>", stream(b"", text_ops()), HELVETICA)


def grant_then_unreadable_withdrawal() -> bytes:
    """Page 1 grants; page 2 withdraws, in a content stream too deeply nested for the text reader."""
    page = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 6 0 R >> >> >>")
    return raw_pdf(b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
                   page % 5, page % 7, stream(b"", text_ops()), HELVETICA,
                   stream(b"", b"[" * 200_000 + text_ops(b"I withdraw this consent: do not post anything.")))


def unknown_encryption() -> bytes:
    return encrypt(GOOD, "").replace(b"/Filter /Standard", b"/Filter /AcmeVault")


def js_field_format() -> bytes:
    """A filled text field whose format script shows something else than its value."""
    field = (b"<< /FT /Tx /T (platform) /V (none) /Subtype /Widget /Rect [300 600 500 620] /P 3 0 R "
             b"/AA << /F << /S /JavaScript /JS (event.value = 'Instagram';) >> >> >>")
    return one_page(catalog=b"/AcroForm << /Fields [6 0 R] >>", page=b"/Annots [6 0 R]", objects=(field,))


# name: (bytes, exit code, phrase in the error or None for an "unclear" verdict, phrase in the reasons)
DAMAGED = {
    "empty.pdf": (lambda: b"", 1, "the file is empty", None),
    "letter.pdf": (lambda: b"Dear " + PLANTED + b", this letter is not a PDF.\n" * 20, 1, "not a PDF file", None),
    "truncated_1pc.pdf": (lambda: truncated(0.01), 1, "damaged", None),
    "truncated_10pc.pdf": (lambda: truncated(0.10), 1, "damaged", None),
    "truncated_50pc.pdf": (lambda: truncated(0.50), 1, "damaged", None),
    "truncated_90pc.pdf": (lambda: truncated(0.90), 1, "damaged", None),
    "truncated_99pc.pdf": (lambda: truncated(0.99), 1, "damaged", None),
    "no_xref_no_trailer.pdf": (without_xref_and_trailer, 1, "damaged", None),
    "missing_page.pdf": (lambda: with_kids(b"3 0 R 9 0 R", 2), 1, "list of pages is broken", None),
    "missing_catalog.pdf": (lambda: raw_pdf(b"null").replace(b"/Root 1 0 R", b"/Root 7 0 R"), 1, "damaged", None),
    "missing_contents.pdf": (lambda: raw_pdf(b"<< /Type /Catalog /Pages 2 0 R >>",
                                             b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                                             b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 9 0 R >>"),
                             0, None, "no readable text"),
    "page_list_contains_itself.pdf": (lambda: with_kids(b"2 0 R 3 0 R", 2), 1, "damaged", None),
    "stream_length_refers_to_itself.pdf": (
        lambda: one_page(content=b"<< /Length 4 0 R >>\nstream\n" + text_ops() + b"\nendstream"), 1, "damaged", None),
    "objects_refer_in_a_circle.pdf": (lambda: one_page(page=b"/Extra 6 0 R", objects=(b"7 0 R", b"6 0 R")),
                                      1, "damaged", None),
    "nested_arrays_100k_deep.pdf": (lambda: one_page(page=b"/Deep " + b"[" * 100_000 + b"]" * 100_000),
                                    1, "damaged", None),
    "content_nested_200k_deep.pdf": (lambda: one_page(content=stream(b"", b"[" * 200_000 + text_ops())),
                                     1, "text of page 1 cannot be read", None),
    "grant_then_unreadable_withdrawal.pdf": (grant_then_unreadable_withdrawal, 1,
                                             "the text of page 2 cannot be read", None),
    "password.pdf": (lambda: encrypt(GOOD, "secret"), 1, "password-protected", None),
    "unknown_encryption.pdf": (unknown_encryption, 1, "encrypted with a method the checker cannot open", None),
    "thousands_of_pages.pdf": (thousands_of_pages, 1, "5000 pages is too long for a consent form", None),
    "content_bomb_4gb.pdf": (lambda: one_page(content=stream(b"/Filter /FlateDecode", zlib_bomb(4 << 30, b" " * (1 << 20)))),
                             1, "decompression bomb", None),
    "image_declares_4300mp.pdf": (lambda: image_page(65536, 65536, zlib_bomb(4 << 30)), 1, "megapixels", None),
    "image_data_bomb_4gb.pdf": (lambda: image_page(1000, 1000, zlib_bomb(4 << 30)), 0, None, "no text could be read"),
}

# Files a reader copes with: judged like any other (the good consent's wording, so "covered").
READABLE = {
    "startxref_points_nowhere.pdf": damaged_startxref,
    "empty_password.pdf": lambda: encrypt(GOOD, ""),
    "form_draws_itself.pdf": lambda: one_page(
        content=stream(b"", b"/Im0 Do " + text_ops()),
        objects=(stream(b"/Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /Im0 6 0 R >> >>",
                        b"/Im0 Do"),)),
    "signature_fields_in_a_circle.pdf": lambda: one_page(
        catalog=b"/AcroForm << /Fields [6 0 R] >>", page=b"/Annots [6 0 R]",
        objects=(b"<< /FT /Sig /T (s) /Kids [7 0 R] /Parent 7 0 R >>",
                 b"<< /T (k) /Kids [6 0 R] /Parent 6 0 R /Subtype /Widget /Rect [0 0 10 10] >>")),
    "signature_fields_branching_in_a_circle.pdf": lambda: one_page(  # 2^32 paths if walked as a tree
        catalog=b"/AcroForm << /Fields [6 0 R] >>", page=b"/Annots [6 0 R]",
        objects=(b"<< /FT /Sig /T (s) /Kids [7 0 R 7 0 R] /Parent 7 0 R >>",
                 b"<< /T (k) /Kids [6 0 R 6 0 R] /Parent 6 0 R /Subtype /Widget /Rect [0 0 10 10] >>")),
    "dictionaries_50k_deep.pdf": lambda: one_page(page=b"/Deep " + b"<< /A " * 50_000 + b">> " * 50_000),
}

ACTIVE = {  # name: (bytes, what the reason names)
    "js_open_action.pdf": (lambda: one_page(catalog=b"/OpenAction << /S /JavaScript /JS (app.alert\\(1\\);) >>"),
                           "JavaScript"),
    "js_document_names.pdf": (lambda: one_page(
        catalog=b"/Names << /JavaScript << /Names [(init) << /S /JavaScript /JS 6 0 R >>] >> >>",
        objects=(stream(b"", b"this.getField('platform').value = 'none';"),)), "JavaScript"),
    "js_page_open.pdf": (lambda: one_page(page=b"/AA << /O << /S /JavaScript /JS (this.print\\(\\);) >> >>"),
                         "JavaScript"),
    "js_field_format.pdf": (js_field_format, "JavaScript"),
    "js_link_next_action.pdf": (lambda: one_page(
        page=b"/Annots [<< /Subtype /Link /Rect [0 0 10 10] /A << /S /URI /URI (https://example.org) "
             b"/Next << /S /JavaScript /JS (app.alert\\(1\\);) >> >> >>]"), "JavaScript"),
    "js_hex_escaped_names.pdf": (lambda: one_page(catalog=b"/OpenAction << /S /J#61vaScript /J#53 (app.alert\\(1\\);) >>"),
                                 "JavaScript"),
    "launch_action.pdf": (lambda: one_page(
        catalog=b"/OpenAction << /S /Launch /F << /Type /Filespec /F (/usr/bin/touch) >> /Win << /F (cmd.exe) >> >>"),
        "Launch action"),
    "embedded_file.pdf": (lambda: one_page(
        catalog=b"/Names << /EmbeddedFiles << /Names [(notes.txt) << /Type /Filespec /F (notes.txt) "
                b"/EF << /F 6 0 R >> >>] >> >>", objects=(stream(b"/Type /EmbeddedFile", b"notes"),)), "attached files"),
    "xfa_form.pdf": (lambda: one_page(catalog=b"/AcroForm << /Fields [] /XFA 6 0 R >>",
                                      objects=(stream(b"", b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'/>"),)),
                     "XFA form"),
}


# ------------------------------------------------------------------------------------- the CLI

def check_batch(tmp_path: Path, name: str, data: bytes) -> tuple[int, list[dict], str, int]:
    """`python -m consent check --json HOSTILE good.pdf`: (exit code, entries, stderr, peak RSS bytes)."""
    hostile, good = write(tmp_path, name, data), write(tmp_path, "good.pdf", GOOD)
    done = run_limited([sys.executable, "-m", "consent", "check", "--json", str(hostile), str(good)],
                       address_space=CLI_MEMORY, hang_seconds=HANG_GUARD_S, cwd=ROOT)
    assert not done.hung, f"{name}: hung"
    assert done.returncode in (0, 1), (name, done.returncode, done.stderr[-2000:])
    return done.returncode, json.loads(done.stdout), done.stderr, done.peak_bytes


def assert_sound_batch(name: str, entries: list[dict], stderr: str, peak: int) -> dict:
    """The hostile entry names the file, is never covered; the good consent is covered; no traceback."""
    hostile, good = entries
    assert hostile["path"].endswith("/" + name)
    assert hostile["social_media"] != "covered", hostile
    assert good["error"] is None and good["social_media"] == "covered", good
    assert "Traceback" not in stderr and PLANTED.decode() not in stderr, stderr[-2000:]
    assert peak < PEAK_RSS_BOUND, f"{name}: peak memory {peak >> 20} MB"
    return hostile


# --------------------------------------------------------------------------------------- tests

@pytest.mark.parametrize("name", DAMAGED)
def test_a_damaged_or_hostile_pdf_gets_a_clear_entry_and_the_good_one_is_still_covered(name, tmp_path):
    build, code, error_phrase, reason_phrase = DAMAGED[name]
    exit_code, entries, stderr, peak = check_batch(tmp_path, name, build())
    hostile = assert_sound_batch(name, entries, stderr, peak)
    assert exit_code == code, hostile
    if error_phrase:
        assert hostile["error"].startswith(name + ": ") and error_phrase in hostile["error"], hostile["error"]
        assert PLANTED.decode() not in json.dumps(hostile)  # no quoted file content
        assert "/" not in hostile["error"].split(": ", 1)[1]  # no path but the file's own name
        assert hostile["social_media"] == "unclear"
    else:
        assert hostile["error"] is None and hostile["social_media"] == "unclear"
        assert any(reason_phrase in reason for reason in hostile["reasons"]), hostile["reasons"]


@pytest.mark.parametrize("name", READABLE)
def test_a_pdf_the_readers_can_repair_is_judged_like_any_other(name, tmp_path):
    exit_code, entries, stderr, _peak = check_batch(tmp_path, name, READABLE[name]())
    hostile, good = entries
    assert exit_code == 0 and hostile["error"] is None, hostile
    assert hostile["social_media"] == "covered" and "instagram" in hostile["platforms"], hostile
    assert good["social_media"] == "covered" and "Traceback" not in stderr


def test_an_empty_user_password_is_opened_and_reported_as_encrypted(tmp_path):
    _code, entries, _stderr, _peak = check_batch(tmp_path, "empty_password.pdf", encrypt(GOOD, ""))
    assert entries[0]["encrypted"] is True and entries[0]["social_media"] == "covered"


@pytest.mark.parametrize("name", ACTIVE)
def test_a_pdf_carrying_scripts_launch_actions_or_attachments_is_never_covered(name, tmp_path):
    build, named = ACTIVE[name]
    exit_code, entries, stderr, peak = check_batch(tmp_path, name, build())
    hostile = assert_sound_batch(name, entries, stderr, peak)
    assert exit_code == 0 and hostile["error"] is None  # read, and judged: unclear, saying why
    assert hostile["social_media"] == "unclear"
    assert any(named in item for item in hostile["active_content"]), hostile["active_content"]
    assert any(named in reason and "never judged covered" in reason for reason in hostile["reasons"])


def test_the_pdf_renderer_has_no_javascript_engine_to_run_a_script_with():
    assert "V8" not in pdfium.PDFIUM_INFO.flags and "XFA" not in pdfium.PDFIUM_INFO.flags


@pytest.mark.parametrize("name, page", [("mediabox_200000pt.pdf", ticked_box_page(200_000)),
                                        ("userunit_75000.pdf", ticked_box_page(14_400, b"/UserUnit 75000"))])
def test_a_ticked_box_on_an_enormous_page_is_read_without_rendering_the_whole_sheet(name, page, tmp_path):
    exit_code, entries, stderr, peak = check_batch(tmp_path, name, page)
    hostile, good = entries
    assert exit_code == 0 and hostile["error"] is None, hostile
    assert [(c["label"], c["ticked"]) for c in hostile["checkboxes"]] == [("Instagram", True)]
    assert good["social_media"] == "covered" and "Traceback" not in stderr
    assert peak < PEAK_RSS_BOUND, f"peak memory {peak >> 20} MB"


def test_a_huge_scanned_page_is_read_by_ocr_at_a_bounded_size(tmp_path):
    exit_code, entries, stderr, peak = check_batch(tmp_path, "huge_scan.pdf", huge_scan())
    hostile = assert_sound_batch("huge_scan.pdf", entries, stderr, peak)
    assert exit_code == 0 and hostile["text_source"] == "ocr"
    assert "instagram" in " ".join(e["text"].lower() for e in hostile["evidence"])


def test_a_pipe_a_folder_and_an_oversized_file_are_refused_without_reading_them(tmp_path):
    pipe = tmp_path / "pipe.pdf"
    os.mkfifo(pipe)  # reading it would wait for a writer forever
    oversized = tmp_path / "oversized.pdf"
    with oversized.open("wb") as handle:
        handle.truncate(300 * 1024 * 1024)  # sparse: no disk used
    (tmp_path / "folder.pdf").mkdir()
    good = write(tmp_path, "good.pdf", GOOD)
    done = run_limited([sys.executable, "-m", "consent", "check", "--json", str(pipe), str(oversized),
                        str(tmp_path / "folder.pdf"), str(good)], address_space=CLI_MEMORY,
                       hang_seconds=HANG_GUARD_S, cwd=ROOT)
    entries = json.loads(done.stdout)
    assert not done.hung and done.returncode == 1 and "Traceback" not in done.stderr
    assert "not a regular file" in entries[0]["error"]
    assert "300 MB, larger than a consent form" in entries[1]["error"]
    assert "is a folder" in entries[2]["error"]
    assert entries[3]["social_media"] == "covered"


def test_a_reading_that_runs_past_its_time_is_stopped_and_explained(tmp_path):
    # through the app's sandbox, as the app reads a consent (test_sandbox covers the memory limit itself)
    from records.sandbox import check_in_sandbox

    scan = write(tmp_path, "slow_scan.pdf", huge_scan())
    result = check_in_sandbox(scan, kill_seconds=1)
    assert result.error == ("slow_scan.pdf: reading took longer than 1 s and was stopped; "
                            "a person must look at it")
    assert result.social_media == "unclear"
