"""The nationwide consumer reporting agencies are data (config/credit_bureaus.toml), checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from incident.errors import ConfigError
from incident.service.addressees import load_credit_bureaus


def test_the_shipped_file_names_the_three_nationwide_agencies_with_an_address() -> None:
    agencies = load_credit_bureaus(Path("config/credit_bureaus.toml").resolve())
    assert [a.id for a in agencies] == ["equifax", "experian", "transunion"]
    assert all(a.postal_address for a in agencies)


@pytest.mark.parametrize(
    ("text", "entry", "field"),
    [
        ("[[agency]]\nid = 'x'\nname = 'X Bureau'\n", "x", "-"),  # no way to reach it
        ("[[agency]]\nid = 'x'\nname = 'X'\nurl = 'ftp://x'\n", "x", "name"),
        ("[[agency]]\nid = 'x'\nname = 'X Bureau'\nurl = 'ftp://x'\n", "x", "url"),
        ("[bureaus]\n", "bureaus", "-"),
    ],
)
def test_a_malformed_agency_is_refused_naming_entry_and_field(
    tmp_path: Path, text: str, entry: str, field: str
) -> None:
    path = tmp_path / "cra.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_credit_bureaus(path)
    assert (caught.value.entry, caught.value.field) == (entry, field)
