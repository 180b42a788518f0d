"""One long-lived ExifTool per process (deid/metadata.py), with the real ExifTool: it answers as a one-off
ExifTool would, is replaced when it dies, is never shared with a forked child, and ends with its owner."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from conftest import ROOT
from deid import metadata


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie waiting for its reaper counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def one_off(path: Path) -> list[tuple[str, str]]:
    """What a fresh ExifTool with the same arguments reads."""
    done = subprocess.run(["exiftool", *metadata.READ_ARGS, "--", str(path)], capture_output=True, check=True)
    return [metadata._split(key) for key in json.loads(done.stdout)[0] if key != "SourceFile"]


def test_one_exiftool_reads_file_after_file_as_a_fresh_one_would(planted_jpeg, grace_hopper, tmp_path):
    photo = tmp_path / "portrait.png"
    Image.fromarray(grace_hopper).save(photo)
    first = metadata.read_tag_names(planted_jpeg)
    pid = metadata.stay_open_pid()
    assert pid is not None
    assert first == one_off(planted_jpeg) and ("IFD0", "Make") in first
    assert metadata.read_tag_names(photo) == one_off(photo)
    assert metadata.read_tag_names(planted_jpeg) == first
    assert metadata.stay_open_pid() == pid, "a new ExifTool was started for a later file"


def test_an_exiftool_that_died_is_replaced_and_one_that_overran_is_stopped(planted_jpeg, monkeypatch):
    expected = metadata.read_tag_names(planted_jpeg)
    first = metadata.stay_open_pid()
    os.kill(first, signal.SIGKILL)
    while alive(first):
        time.sleep(0.01)
    assert metadata.read_tag_names(planted_jpeg) == expected
    second = metadata.stay_open_pid()
    assert second not in (None, first)

    monkeypatch.setattr(metadata, "EXIFTOOL_SECONDS", 0.001)
    with pytest.raises(metadata.ExifToolError, match="did not finish reading the file in 0.001 s"):
        metadata.read_tag_names(planted_jpeg)
    assert not alive(second) and metadata.stay_open_pid() is None
    monkeypatch.setattr(metadata, "EXIFTOOL_SECONDS", 120)
    assert metadata.read_tag_names(planted_jpeg) == expected


def test_a_name_with_a_line_break_is_read_too(planted_jpeg, tmp_path):
    """The stay-open input is one argument a line: such a name goes to a one-off ExifTool instead of
    being cut in two (or read as a command)."""
    odd = tmp_path / "line\n-execute\nbreak.jpg"
    shutil.copy(planted_jpeg, odd)
    assert metadata.read_tag_names(odd) == metadata.read_tag_names(planted_jpeg)


def test_a_forked_child_uses_an_exiftool_of_its_own_while_the_parent_goes_on_with_its_own(planted_jpeg):
    expected = metadata.read_tag_names(planted_jpeg)
    parent_pid = metadata.stay_open_pid()
    receive, send = os.pipe()
    child = os.fork()
    if child == 0:   # the child: read as often as the parent does, at the same time, and say with what
        try:
            same = all(metadata.read_tag_names(planted_jpeg) == expected for _ in range(10))
            os.write(send, json.dumps([same, metadata.stay_open_pid()]).encode())
        finally:
            os._exit(0)
    os.close(send)
    parent_same = all(metadata.read_tag_names(planted_jpeg) == expected for _ in range(10))
    with os.fdopen(receive) as answer:
        child_same, child_exiftool = json.loads(answer.read())
    os.waitpid(child, 0)
    assert parent_same and child_same
    assert child_exiftool not in (None, parent_pid), "the child wrote into its parent's ExifTool"
    assert metadata.stay_open_pid() == parent_pid


def test_the_exiftool_ends_when_its_owner_is_killed(planted_jpeg):
    """At the end of its input ExifTool would wait for more forever: an owner killed without a chance to
    close it must not leave it behind."""
    owner = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom deid import metadata\nmetadata.read_tag_names(sys.argv[1])\n"
        "print(metadata.stay_open_pid(), flush=True)\ntime.sleep(60)"), str(planted_jpeg)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    exiftool = int(owner.stdout.readline())
    assert alive(exiftool)
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 5
    while alive(exiftool) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(exiftool), "ExifTool outlived the process that started it"


def test_the_exiftool_exits_with_its_owner(planted_jpeg):
    done = subprocess.run([sys.executable, "-c", (
        "import sys\nfrom deid import metadata\nmetadata.read_tag_names(sys.argv[1])\n"
        "print(metadata.stay_open_pid())"), str(planted_jpeg)], cwd=ROOT, capture_output=True, text=True,
        timeout=60)
    exiftool = int(done.stdout)
    deadline = time.monotonic() + 5
    while alive(exiftool) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(exiftool)
