"""The two hand-fed intakes (`incident raise FILE`, `obligations assess FACTS`): any file either
gives a valid result or is refused with `DocumentError` / `InvalidInputs` (exit code 2 and a
message), never another exception; anchor bombs and deep nesting are refused fast."""

from __future__ import annotations

import json
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from incident.adapters.documents import MAX_DEPTH, load_document
from incident.domain.incident_spec import IncidentSpec
from incident.entrypoints.cli import app, read_incident_file
from incident.errors import DocumentError, InvalidInputs
from incident.obligations import IncidentFacts, assess, load_facts_file, load_rules

EXAMPLES = Path(__file__).parents[2] / "config" / "examples"
INCIDENT = load_document(EXAMPLES / "incident.yaml")
FACTS = load_document(EXAMPLES / "facts.yaml")
RULES = load_rules()
FUZZ = settings(
    max_examples=200,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DOCUMENTED = (DocumentError, InvalidInputs)


# --- the property -----------------------------------------------------------------------------


def read_facts(path: Path) -> IncidentFacts:
    """What `obligations assess` does with the file, up to the table it prints."""
    facts = load_facts_file(path, RULES.flags)
    assess(facts, RULES)
    return facts


INTAKES: dict[str, Callable[[Path], object]] = {"incident": read_incident_file, "facts": read_facts}


def valid_or_refused(intake: str, path: Path) -> object | None:
    """The intake's result, or None when it refused the file with a documented, bounded error."""
    try:
        return INTAKES[intake](path)
    except DOCUMENTED as exc:
        message = str(exc)
        assert message.strip() and len(message) < 20_000, message[:500]
        if isinstance(exc, InvalidInputs):
            assert exc.errors and all(e.field and e.rule for e in exc.errors)
        return None


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def write(workdir: Path, content: bytes | str, suffix: str = ".yaml") -> Path:
    path = workdir / f"doc{suffix}"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


# --- strategies -------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["en", "NL", "US-CA", "high", "contact", "2026-03-06T16:00:00+01:00",
                      "2026-03-06", "NO", "[/red]", "~", "=", "<<", "0x1F", ".nan", "yes"])
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a document: mapping keys and list indexes from the root."""
    found = [prefix]
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    )
    for key, child in items:
        found += paths(child, (*prefix, key))
    return found


def mutate(doc: Any, path: tuple[Any, ...], op: str, new: Any, depth: int) -> Any:
    """`doc` with the value at `path` dropped, replaced, wrapped or nested `depth` deep."""
    if not path:
        return {
            "drop": None,
            "replace": new,
            "wrap": [doc],
            "nest": _nest(doc, depth),
            "retype": str(doc),
        }[op]
    head, rest = path[0], path[1:]
    copy: Any = dict(doc) if isinstance(doc, dict) else list(doc)
    if op == "drop" and not rest:
        del copy[head]
    else:
        copy[head] = mutate(copy[head], rest, op, new, depth)
    return copy


def _nest(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


def mutations(base: Any) -> st.SearchStrategy[Any]:
    return st.builds(
        mutate,
        st.just(base),
        st.sampled_from(paths(base)),
        st.sampled_from(["drop", "replace", "wrap", "nest", "retype"]),
        values,
        st.integers(1, MAX_DEPTH + 5),
    )


def dumped(doc: Any, as_json: bool) -> str:
    return json.dumps(doc) if as_json else yaml.safe_dump(doc, allow_unicode=True)


def text_mutation(text: str, at: int, cut: int, insert: str) -> str:
    at = at % (len(text) + 1)
    return text[:at] + insert + text[at + cut :]


# --- properties -------------------------------------------------------------------------------


@FUZZ
@given(
    st.sampled_from(sorted(INTAKES)), st.binary(max_size=300), st.sampled_from([".yaml", ".json"])
)
def test_random_bytes_are_refused_or_read(
    workdir: Path, intake: str, raw: bytes, suffix: str
) -> None:
    valid_or_refused(intake, write(workdir, raw, suffix))


@FUZZ
@given(st.sampled_from(sorted(INTAKES)), values, st.booleans())
def test_any_document_of_any_type_is_refused_or_read(
    workdir: Path, intake: str, doc: Any, as_json: bool
) -> None:
    valid_or_refused(intake, write(workdir, dumped(doc, as_json), ".json" if as_json else ".yaml"))


@FUZZ
@given(mutations(INCIDENT), st.booleans())
def test_a_mutated_incident_is_valid_or_refused(workdir: Path, doc: Any, as_json: bool) -> None:
    spec = valid_or_refused("incident", write(workdir, dumped(doc, as_json), ".yaml"))
    assert spec is None or isinstance(spec, IncidentSpec)


@FUZZ
@given(mutations(FACTS), st.booleans())
def test_mutated_facts_are_valid_or_refused(workdir: Path, doc: Any, as_json: bool) -> None:
    facts = valid_or_refused("facts", write(workdir, dumped(doc, as_json), ".yaml"))
    assert facts is None or isinstance(facts, IncidentFacts)


@FUZZ
@given(
    st.sampled_from(sorted(INTAKES)),
    st.integers(0, 10_000),
    st.integers(0, 20),
    st.text(max_size=12)
    | st.sampled_from(["&a ", "*a", "<<: *a\n", "\t", ": ", "- ", "{", "]", "\x00", "\ufeff",
                       '"', "'", "!!binary ", "!!python/object:os.system ", "? ", "---\n"]),
)  # fmt: skip
def test_text_edits_of_the_examples_are_refused_or_read(
    workdir: Path, intake: str, at: int, cut: int, insert: str
) -> None:
    text = (EXAMPLES / f"{intake}.yaml").read_text(encoding="utf-8")
    valid_or_refused(intake, write(workdir, text_mutation(text, at, cut, insert)))


# --- regressions from the fuzzing report ------------------------------------------------------


def refused(intake: str, path: Path, match: str) -> str:
    with pytest.raises(DOCUMENTED, match=match) as caught:
        INTAKES[intake](path)
    return str(caught.value)


@pytest.mark.parametrize("intake", sorted(INTAKES))
def test_a_file_that_is_not_utf8_is_refused_naming_the_byte(intake: str, tmp_path: Path) -> None:
    text = (
        (EXAMPLES / f"{intake}.yaml").read_bytes().replace(b"severity: high", b"severit\xe9: high")
    )
    message = refused(intake, write(tmp_path, text), "not UTF-8")
    assert "byte 0xe9 at offset" in message


@pytest.mark.parametrize("intake", sorted(INTAKES))
@pytest.mark.parametrize(
    "deep",
    [
        "categories: " + "[" * 10_000 + "]" * 10_000,
        "categories:\n" + "".join(" " * i + "- \n" for i in range(1, 10_000)),
        "flags: " + "{a: " * 10_000 + "1" + "}" * 10_000,
    ],
    ids=["flow-lists", "block-lists", "flow-mappings"],
)
def test_nesting_10000_deep_is_refused(intake: str, deep: str, tmp_path: Path) -> None:
    refused(intake, write(tmp_path, deep), "nest")


def test_deep_json_is_refused(tmp_path: Path) -> None:
    refused(
        "facts",
        write(tmp_path, '{"flags": ' + "[" * 10_000 + "]" * 10_000 + "}", ".json"),
        "nested",
    )


BILLION_LAUGHS = (
    'lol0: &l0 "lol"\n'
    + "".join(f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 10))
    + "categories: *l9\n"
)


@pytest.mark.parametrize("intake", sorted(INTAKES))
def test_a_billion_laughs_anchor_bomb_is_refused_fast_and_small(
    intake: str, tmp_path: Path
) -> None:
    path = write(tmp_path, BILLION_LAUGHS)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    refused(intake, path, "alias")
    assert time.perf_counter() - started < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB


def test_a_list_where_a_scalar_is_expected_in_facts_names_field_and_value(tmp_path: Path) -> None:
    """The fuzzing report's `TypeError: unhashable type` crash."""
    text = (
        (EXAMPLES / "facts.yaml")
        .read_text()
        .replace("[contact, credentials]", "[[contact], {a: 1}]")
    )
    with pytest.raises(InvalidInputs) as caught:
        read_facts(write(tmp_path, text))
    assert [(e.field, e.value) for e in caught.value.errors] == [
        ("categories", ["contact"]),
        ("categories", {"a": 1}),
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"severity": ["high"]}, "severity"),
        ({"severity": {"high": 1}}, "severity"),
        ({"establishment": ["NL"]}, "establishment"),
        ({"flags": ["encrypted"]}, "flags"),
        ({"affected": [["NL", 1]]}, "affected"),
        ({"affected": {"NL": [1]}}, "affected.NL"),
        ({"aware_at": ["2026-03-06T16:00:00+01:00"]}, "aware_at"),
        ({"aware_at": 1_800_000_000}, "aware_at"),
        ({"aware_at": "9999-12-31T23:59:59-12:00"}, "aware_at"),
        ({"notice_cost_usd": "1000"}, "notice_cost_usd"),
        ({"law_enforcement_delay": {"start": "2026-03-07T00:00:00Z", "national_security": "no"}},
         "law_enforcement_delay.national_security"),
    ],
)  # fmt: skip
def test_a_wrong_type_in_facts_is_named(change: dict[str, Any], field: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputs) as caught:
        read_facts(write(tmp_path, json.dumps({**FACTS, **change}), ".json"))
    assert field in [e.field for e in caught.value.errors]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ["a", "b", "c"]}, "title"),
        ({"title": 12345}, "title"),
        ({"severity": ["high"]}, "severity"),
        ({"categories": "contact"}, "categories"),
        ({"categories": [["contact"]]}, "categories[0]"),
        ({"description": ["text"]}, "description"),
        ({"description": {"en": ["text"]}}, "description"),
        ({"aware_at": 1_700_000_000}, "aware_at"),
        ({"aware_at": ["2026-11-20T09:30:00+01:00"]}, "aware_at"),
        ({"aware_at": "0001-01-01T00:00:00+01:00"}, "aware_at"),
        ({"scope": ["NL"]}, "scope"),
        ({"scope": {"people": "p1"}}, "scope.people"),
        ({"scope": {"countries": [{"NL": 1}]}}, "scope.countries[0]"),
        ({"flags": {"encrypted": [True]}}, "flags.encrypted"),
        ({"contact": {"email": ["a@example.org"]}}, "contact.email"),
    ],
)
def test_a_wrong_type_in_an_incident_is_named(
    change: dict[str, Any], field: str, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInputs) as caught:
        read_incident_file(write(tmp_path, json.dumps({**INCIDENT, **change}), ".json"))
    assert field in [e.field for e in caught.value.errors]


def test_a_huge_value_is_shown_cut_short(tmp_path: Path) -> None:
    doc = {**INCIDENT, "title": list(range(100_000))}
    with pytest.raises(InvalidInputs) as caught:
        read_incident_file(write(tmp_path, json.dumps(doc), ".json"))
    assert len(str(caught.value)) < 1000


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = write(tmp_path, "title: " + "x" * (6 * 1024 * 1024))
    refused("incident", path, "larger than")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("title: a\ntitle: b\n", "duplicate key 'title'"),
        ("affected: {NO: 3}\n", "key 'NO' is not text: quote it"),
        ("? [a]\n: 1\n", "keys must be text"),
        ("title: !!binary aGVsbG8=\n", "tag .* is not allowed"),
        ("title: !!python/object/apply:os.system [ls]\n", "tag .* is not allowed"),
        ("title: [unclosed", "not YAML/JSON"),
        ("a: 1\n---\nb: 2\n", "expected a single document"),
    ],
)
def test_yaml_the_loader_refuses(text: str, reason: str, tmp_path: Path) -> None:
    refused("facts", write(tmp_path, text), reason)


# --- through the command line -----------------------------------------------------------------

BAD_FILES = {
    "not-utf8": b"title: caf\xe9\n",
    "deep": ("categories: " + "[" * 10_000 + "]" * 10_000).encode(),
    "bomb": BILLION_LAUGHS.encode(),
    "list-for-scalar": b"severity: [high]\ncategories: [[contact]]\naware_at: [1]\n",
    "markup": b"'[/red]': 1\n",
    "not-a-mapping": b"- 1\n- 2\n",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
@pytest.mark.parametrize("command", ["incident raise", "obligations assess"])
def test_the_cli_exits_2_with_a_message_and_no_traceback(
    command: str, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREACHNOTICE_DATABASE_URL", f"sqlite:///{tmp_path / 'bn.db'}")
    monkeypatch.setenv("BREACHNOTICE_LOG_FORMAT", "json")
    path = write(tmp_path, BAD_FILES[name])
    result = CliRunner().invoke(app, [*command.split(), str(path)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "invalid" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "bn.db").exists() or command == "obligations assess"
