"""The rules file: complete, cited, and refused at start with file, entry and field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from incident.errors import ConfigError
from incident.obligations import Rules
from incident.obligations.rules import REGIMES
from incident.obligations.rules_loader import default_rules_path, load_rules

REQUIRED_PAIRS = {
    ("gdpr", "authority"), ("gdpr", "individuals"), ("gdpr", "register"),
    ("uk-gdpr", "authority"), ("uk-gdpr", "individuals"), ("uk-gdpr", "register"),
    ("nis2", "authority"), ("pipl", "authority"), ("pipl", "individuals"), ("cac", "authority"),
    ("appi", "authority"), ("appi", "individuals"), ("lgpd", "authority"),
    ("lgpd", "individuals"), ("sg-pdpa", "authority"), ("sg-pdpa", "individuals"),
    ("au-privacy", "authority"), ("au-privacy", "individuals"), ("kr-pipa", "authority"),
    ("kr-pipa", "individuals"), ("ca-pipeda", "authority"), ("ca-pipeda", "individuals"),
    ("hipaa", "individuals"), ("hipaa", "authority"), ("hipaa", "media"),
    ("us-ca", "individuals"), ("us-ca", "authority"), ("us-ny", "individuals"),
    ("us-ny", "authority"), ("us-tx", "individuals"), ("us-tx", "authority"),
    ("us-fl", "individuals"), ("us-fl", "authority"), ("us-ma", "individuals"),
    ("us-ma", "authority"), ("us-wa", "individuals"), ("us-wa", "authority"),
    ("us-il", "individuals"), ("us-il", "authority"), ("sec-8k", "authority"),
    ("policy", "individuals"), ("policy", "authority"), ("policy", "public"),
    *{(f"us-{s}", "individuals") for s in ("co", "me", "al", "az", "in", "md", "nm", "oh", "or",
                                            "ri", "tn", "vt", "wi", "ct", "de", "la", "sd")},
    *{(f"us-{s}", "authority") for s in ("co", "me", "al", "az", "in", "md", "nm", "or", "ri",
                                          "vt", "ct", "de", "la", "sd")},
}  # fmt: skip


def test_every_regime_and_recipient_of_the_issue_has_a_rule(rules: Rules) -> None:
    present = {(r.regime, r.recipient) for r in rules.rules}
    assert present >= REQUIRED_PAIRS
    assert {r.regime for r in rules.rules} == set(REGIMES)


def test_every_rule_entry_has_a_citation_with_article_and_url(rules: Rules) -> None:
    for rule in rules.rules:
        assert len(rule.citation.article) > 3, rule.id
        assert rule.citation.url.startswith(("http://", "https://")), rule.id


def test_every_stage_says_its_deadline_in_words(rules: Rules) -> None:
    for rule in rules.rules:
        for stage in rule.stages:
            assert len(stage.words) > 10, f"{rule.id}/{stage.stage}"


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = default_rules_path().read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "obligations.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "entry", "field"),
    [
        ('id = "gdpr-authority"\nregime = "gdpr"', 'id = "gdpr-authority"\nregime = "gdpr2"',
         "gdpr-authority", "regime"),
        ('recipient = "media"', 'recipient = "press"', "hipaa-media", "recipient"),
        ("hours = 72\nwords = \"without undue delay and, where",
         "hours = 72\ncalendar_days = 3\nwords = \"without undue delay and, where",
         "gdpr-authority", "stages[0]"),
        ('clock_fallback = "rule:us-ca-individuals/notice"',
         'clock_fallback = "rule:nope/notice"', "us-ca-authority", "stages[0].clock_fallback"),
        ('clock_start = "sent:us-ca-individuals/notice"',
         'clock_start = "sent:us-ca-individuals/x"', "us-ca-authority", "stages[0].clock_start"),
        ("flags = { hipaa_covered = true }\nunless", "flags = { hipaa = true }\nunless",
         "hipaa-individuals", "applies_when.flags"),
        ('jurisdictions = ["US-TX"]', 'jurisdictions = ["US-XX"]',
         "us-tx-individuals", "applies_when.jurisdictions"),
        ('target = "immediately"', 'target = "at_once"', "pipl-authority", "stages[0].target"),
        ('citation = { article = "PIPL Art. 57", url = "http://www.npc',
         'citation = { article = "PIPL Art. 57", url = "www.npc', "pipl-authority", "citation.url"),
        ('categories_any = ["health"]\nflags = { hipaa_covered = true }\nunless',
         'categories_any = ["medical"]\nflags = { hipaa_covered = true }\nunless',
         "hipaa-individuals", "applies_when.categories_any[0]"),
    ],
)  # fmt: skip
def test_a_malformed_rule_names_file_entry_and_field(
    tmp_path: Path, old: str, new: str, entry: str, field: str
) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert (caught.value.file, caught.value.entry, caught.value.field) == (str(path), entry, field)


def test_a_missing_citation_is_refused(tmp_path: Path) -> None:
    old = (
        'citation = { article = "GDPR Art. 33(5)", '
        'url = "https://eur-lex.europa.eu/eli/reg/2016/679/oj" }\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_rules(_broken(tmp_path, old, ""))
    assert (caught.value.entry, caught.value.field) == ("gdpr-register", "citation")


def test_a_duplicate_rule_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="duplicate rule id"):
        load_rules(_broken(tmp_path, 'id = "us-wa-authority"', 'id = "us-wa-individuals"'))


def test_a_bad_time_zone_is_refused(tmp_path: Path) -> None:
    path = _broken(tmp_path, 'JP = "Asia/Tokyo"', 'JP = "Asia/Edo"')
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert (caught.value.entry, caught.value.field) == ("zones", "JP")


def test_invalid_toml_is_refused_with_the_file_named(tmp_path: Path) -> None:
    path = _broken(tmp_path, "\n[targets]\n", "\n[targets\n")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_rules(path)
    assert caught.value.file == str(path)
