"""SMS bodies are budgeted in segments (GSM-7 160/153, UCS-2 70/67) and keep the reference
and the link to the full notice whole; every locale's sms layout fits the default budget."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from channels.sms import fit, measure
from incident.rendering import NoticeContext, Renderer
from incident.settings import templates_dir

TAIL = "Reference: INC-2026-7\nFull notice and what you can do: https://example.org/n/INC-2026-7"
LOCALES = sorted(p.name for p in (templates_dir() / "strings").iterdir() if p.is_dir())


@pytest.mark.parametrize(
    ("text", "encoding", "count"),
    [
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # extension characters cost two septets
        ("€" * 81, "GSM-7", 2),
        ("é" * 160, "GSM-7", 1),  # in GSM-7's own table
        ("ê" * 70, "UCS-2", 1),  # one character outside it switches the whole message
        ("ê" * 71, "UCS-2", 2),
        ("数" * 134, "UCS-2", 2),
        ("😀" * 35, "UCS-2", 1),  # a surrogate pair is two code units
        ("😀" * 36, "UCS-2", 2),
    ],
)
def test_segments_are_counted_like_the_network_does(text: str, encoding: str, count: int) -> None:
    size = measure(text)
    assert (size.encoding, size.count) == (encoding, count)


def test_a_character_never_straddles_two_segments() -> None:
    # 152 septets, then a two-septet €: the € starts the second segment of 153.
    assert measure("a" * 152 + "€" + "a" * 152).count == 3
    assert measure("a" * 151 + "€" + "a" * 153).count == 2


@pytest.mark.parametrize("max_segments", [1, 2, 3])
def test_a_long_body_is_shortened_at_a_word_and_keeps_reference_and_link(
    max_segments: int,
) -> None:
    lead = "Security notice: a security incident involved your personal data. " * 12
    body = fit(f"{lead}\n\n{TAIL}", max_segments)
    assert measure(body).count <= max_segments
    assert body.endswith(TAIL)
    head = body[: -len(TAIL)].rstrip()
    words = {w.rstrip(",;:") for w in lead.split()}
    assert head.endswith("...") and head[:-3].split()[-1] in words  # cut between words
    assert measure(body).encoding == "GSM-7"  # no "…" that would switch to UCS-2


def test_a_body_within_budget_is_left_alone_and_cjk_is_cut_between_characters() -> None:
    short = f"Short notice.\n\n{TAIL}"
    assert fit(short, 1) == short
    body = fit(
        "您的个人数据涉及一起安全事件。" * 20 + "\n\n参考编号：INC-7 https://example.org/n/7", 2
    )
    assert measure(body).count <= 2 and body.endswith("参考编号：INC-7 https://example.org/n/7")
    assert "…\n\n" in body


def test_when_even_the_tail_is_over_budget_only_the_tail_is_sent() -> None:
    tail = "Reference: INC-7 https://example.org/" + "x" * 200
    assert fit("Some text before.\n\n" + tail, 1) == tail


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("guardian", [False, True])
def test_every_locale_s_sms_fits_three_segments_with_reference_and_link(
    locale: str, guardian: bool
) -> None:
    renderer = Renderer(templates_dir(), required_parts={"sms": ("text",)})
    ctx = NoticeContext(
        recipient_name="Anna", subject_name="Tom" if guardian else None, locale=locale,
        incident_ref="INC-2026-0042", title="t", description="An attacker copied data. " * 30,
        impact="", measures_taken="", measures_planned="", advice="", remedies="",
        categories=("contact",), aware_at=datetime(2026, 3, 6, tzinfo=UTC), occurred_at=None,
        contact_email=None, contact_phone=None,
        contact_url="https://example.org/notices/INC-2026-0042",
    )  # fmt: skip
    text = renderer.render("sms", "notice", locale, ctx).text
    body = fit(text, 3)
    assert measure(body).count <= 3
    assert "INC-2026-0042\n" in body and body.endswith("https://example.org/notices/INC-2026-0042")
    assert body.count("\n\n") == 1  # the intro (maybe shortened), then reference and link
