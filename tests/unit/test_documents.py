"""The safe document loader reads plain YAML/JSON data and refuses everything else precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from incident.adapters.documents import load_document
from incident.errors import DocumentError


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_yaml_keeps_timestamps_as_written(tmp_path: Path) -> None:
    """Validation sees and reports exactly the text of a time."""
    path = write(tmp_path, "a.yaml", b"at: 2026-03-06T16:00:00\nn: 3\nok: true\nx: ~\n")
    assert load_document(path) == {"at": "2026-03-06T16:00:00", "n": 3, "ok": True, "x": None}


def test_json_by_suffix_or_by_content(tmp_path: Path) -> None:
    assert load_document(write(tmp_path, "a.json", b'{"a": [1, 2.5]}')) == {"a": [1, 2.5]}
    assert load_document(write(tmp_path, "a.txt", b' {"a": 1}')) == {"a": 1}
    assert load_document(write(tmp_path, "a.yaml", b"{a: 1}")) == {"a": 1}


def test_a_byte_order_mark_is_allowed(tmp_path: Path) -> None:
    assert load_document(write(tmp_path, "a.yaml", b"\xef\xbb\xbfa: 1\n")) == {"a": 1}


def test_a_json_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(DocumentError) as caught:
        load_document(write(tmp_path, "a.json", b'{\n  "a": 1,\n}'))
    assert (caught.value.line, caught.value.column) == (3, 1)
    assert "not JSON" in caught.value.reason


def test_a_missing_file_is_a_document_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="cannot be read"):
        load_document(tmp_path / "nope.yaml")


def test_an_anchor_without_alias_is_harmless(tmp_path: Path) -> None:
    assert load_document(write(tmp_path, "a.yaml", b"a: &x 1\n")) == {"a": 1}


def test_a_non_utf8_byte_is_located(tmp_path: Path) -> None:
    with pytest.raises(DocumentError) as caught:
        load_document(write(tmp_path, "a.yaml", b"a: 1\nb: \x80\n"))
    assert (caught.value.line, caught.value.column) == (2, 4)
    assert "byte 0x80 at offset 8" in caught.value.reason


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
        (b'{"a": Infinity}', "Infinity is not a JSON number"),
        (b'{"a": ' + b"[" * 65 + b"]" * 65 + b"}", "nested deeper than 64"),
        (b'{"a": ' + b"1" * 5000 + b"}", "a value cannot be read"),
    ],
)
def test_json_the_loader_refuses(content: bytes, reason: str, tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=reason):
        load_document(write(tmp_path, "a.json", content))
