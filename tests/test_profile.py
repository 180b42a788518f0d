"""De-id profiles are data: each shipped one loads with an id and a hash; a malformed one is refused up front."""
from __future__ import annotations

import hashlib

import pytest

from deid.profile import PROFILE_DIR, ProfileError, ProfileStamp, load_profile


@pytest.mark.parametrize("name", ["default", "identifiable"])
def test_shipped_profiles_carry_their_id_and_file_hash(name):
    profile = load_profile(name)
    assert profile.stamp() == ProfileStamp(name, hashlib.sha256((PROFILE_DIR / f"{name}.toml").read_bytes()).hexdigest())
    assert profile.keeps_faces is (name == "identifiable")


@pytest.mark.parametrize("line,message", [
    ('strength = "strong"', "faces.strength must be a number"),
    ("strength = 0", "faces.strength must be a number from 1"),
    ("padding = 3", "faces.padding must be a number from 0 to 1"),
    ('method = "smudge"', "faces.method must be one of"),
])
def test_a_malformed_profile_is_refused_with_the_key_named(tmp_path, line, message):
    key = line.split(" ")[0]
    text = (PROFILE_DIR / "default.toml").read_text()
    lines = [line if row.startswith(f"{key} =") else row for row in text.splitlines()]
    path = tmp_path / "custom.toml"
    path.write_text("\n".join(lines))
    with pytest.raises(ProfileError, match=message):
        load_profile(str(path))
