"""Model weights are used only when they match the SHA-256 pinned in assets/models.toml."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from deid import models


@pytest.fixture
def models_copy(tmp_path, monkeypatch):
    for entry in models.manifest().values():
        shutil.copy(models.models_dir() / entry["file"], tmp_path / entry["file"])
    monkeypatch.setenv("VEIL_MODELS_DIR", str(tmp_path))
    monkeypatch.setattr(models, "_verified", {})
    return tmp_path


def test_every_pinned_model_is_present_and_verified(models_copy):
    for name, entry in models.manifest().items():
        assert models.model_path(name) == models_copy / entry["file"]
        assert len(entry["sha256"]) == 64 and entry["package"].count("==") == 1


def test_an_altered_model_is_refused_with_a_clear_message(models_copy):
    target = models_copy / models.manifest()["centerface"]["file"]
    target.write_bytes(target.read_bytes()[:-1] + b"\0")
    with pytest.raises(models.ModelError, match="does not match its pinned SHA-256"):
        models.model_path("centerface")


def test_a_missing_model_is_refused_with_a_clear_message(models_copy):
    (models_copy / models.manifest()["blazeface_short"]["file"]).unlink()
    with pytest.raises(models.ModelError, match="missing; run `make models`"):
        models.model_path("blazeface_short")


def test_fetching_again_is_a_no_op_when_every_file_is_right(models_copy):
    done = subprocess.run([sys.executable, "-m", "scripts.fetch_models"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "VEIL_MODELS_DIR": str(models_copy)})
    assert done.returncode == 0
    assert done.stdout.count(": ok") == len(models.manifest())
