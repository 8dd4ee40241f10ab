"""channels.mime builds wire-format notices that the stdlib parser reads back exactly."""

from __future__ import annotations

import email
import email.policy
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from channels.mime import address_problem, build_message, needs_smtputf8, wire_address

DATE = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
IDNA = "malformed: domain is not valid IDNA 2008"
SAMPLES = {
    "en": (
        "Important: your personal data was involved in a security incident",
        "Dear Ada,\n\nOn 1 May we found that an attacker = someone unknown copied data.\n"
        "Lines longer than seventy-six characters must be soft-wrapped by quoted-printable. "
        "Trailing spaces   \n.A line starting with a dot\nFrom the start of a line\n",
    ),
    "de": (
        "Wichtig: Sicherheitsvorfall betrifft Ihre persönlichen Daten – bitte lesen",
        "Sehr geehrte Frau Müller,\n\nwir müssen Ihnen mitteilen, dass Unbefugte Zugriff auf "
        "Ihre Daten (Straße, Größe, Gebühren) hatten. Ändern Sie Ihr Passwort.\n",
    ),
    "zh": (
        "重要通知：涉及您个人数据的安全事件（编号 INC-2024-0042），请仔细阅读并采取措施",
        "尊敬的王先生：\n\n我们发现未经授权的第三方访问了您的个人数据。\n请立即更改密码。\n",
    ),
    "ja": (
        "重要なお知らせ：お客様の個人情報に関わるセキュリティインシデントについて",
        "山田 太郎 様\n\n不正アクセスにより、お客様の個人情報が流出した可能性があります。\n",
    ),
    "ar": (
        "هام: حادث أمني يتعلق ببياناتك الشخصية",
        "عزيزي أحمد،\n\nنود إبلاغك بأن طرفًا غير مصرح له قد وصل إلى بياناتك الشخصية.\n",
    ),
}


def _build(subject: str, text: str, html: str | None = "<p>x</p>", **kw: object) -> bytes:
    args: dict[str, object] = {
        "sender": "Security Team <security@example.org>",
        "recipient": "ada@example.com",
        "subject": subject,
        "text": text,
        "html": html,
        "message_id": "inc-1.p-2.email.1@notices.example.org",
        "date": DATE,
    }
    args.update(kw)
    return build_message(**args)  # type: ignore[arg-type]


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def _parse(raw: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


@pytest.mark.parametrize("locale", sorted(SAMPLES))
def test_every_part_and_the_subject_parse_back_to_the_exact_input(locale: str) -> None:
    subject, text = SAMPLES[locale]
    html = "<html><body><p>" + text.replace("\n", "<br>\n") + "</p></body></html>"
    raw = _build(subject, text, html)

    msg = _parse(raw)
    plain, rich = msg.iter_parts()
    assert msg["Subject"] == subject
    assert msg.get_content_type() == "multipart/alternative"
    # Text parts travel in canonical form (CRLF line breaks, RFC 2046 4.1.1) and the parser
    # keeps them, so the exact input comes back once line breaks are read as line breaks.
    assert _lf(plain.get_content()) == text
    assert _lf(rich.get_content()) == html
    assert plain.get_content_charset() == rich.get_content_charset() == "utf-8"
    # A Maildir copy stores LF line ends: the same text comes back from it.
    stored = _parse(raw.replace(b"\r\n", b"\n"))
    assert [_lf(p.get_content()) for p in stored.iter_parts()] == [text, html]


@pytest.mark.parametrize("locale", sorted(SAMPLES))
def test_output_is_seven_bit_with_crlf_lines_no_longer_than_78(locale: str) -> None:
    subject, text = SAMPLES[locale]
    raw = _build(subject, text * 20, "<p>" + text * 20 + "</p>")
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78


def test_headers_carry_message_id_date_auto_submitted_and_extras_but_no_unsubscribe() -> None:
    msg = _parse(_build("Hi", "Body", headers={"X-Incident-Ref": "INC-42 – Überblick"}))
    assert msg["Message-ID"] == "<inc-1.p-2.email.1@notices.example.org>"
    assert msg["Date"].datetime == DATE
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["MIME-Version"] == "1.0"
    assert msg["X-Incident-Ref"] == "INC-42 – Überblick"
    assert msg["List-Unsubscribe"] is None


def test_non_ascii_display_names_are_encoded_and_idn_domains_punycoded() -> None:
    raw = _build("Hi", "Body", sender="Équipe Sécurité <sec@example.fr>", recipient="jo@bücher.de")
    msg = _parse(raw)
    assert msg["From"].addresses[0].display_name == "Équipe Sécurité"
    assert msg["To"] == "jo@xn--bcher-kva.de"


def test_the_same_notice_built_twice_is_byte_identical() -> None:
    assert _build("Hi", "Body") == _build("Hi", "Body")


def test_message_without_html_is_a_single_text_part() -> None:
    msg = _parse(_build("Hi", "Only text\n", html=None))
    assert msg.get_content_type() == "text/plain"
    assert _lf(msg.get_content()) == "Only text\n"


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"List-Unsubscribe": "<mailto:u@example.org>"}, "mandatory"),
        ({"Subject": "other"}, "set by build_message"),
        ({"Bad Name": "x"}, "invalid header name"),
    ],
)
def test_unsafe_extra_headers_are_refused(headers: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        _build("Hi", "Body", headers=headers)


def _header_lines(raw: bytes) -> list[bytes]:
    head = raw.split(b"\r\n\r\n", 1)[0]
    return [line for line in head.split(b"\r\n") if not line.startswith((b" ", b"\t"))]


def test_a_line_break_in_the_display_name_gives_one_to_header_and_no_bcc() -> None:
    """A person-provided name cannot inject a header or a mailbox, and never raises."""
    raw = _build("Hi", "Body", recipient="Ada\r\nBcc: evil@example.com <ada@example.com>")

    names = [line.split(b":", 1)[0].lower() for line in _header_lines(raw)]
    assert names.count(b"to") == 1
    assert b"bcc" not in names
    assert b"evil@example.com>" not in raw  # the injected text stays inside a quoted name
    msg = _parse(raw)
    assert msg["Bcc"] is None
    [to] = msg["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Ada Bcc: evil@example.com", "ada@example.com")


def test_a_name_that_looks_like_an_address_does_not_replace_the_recipient() -> None:
    raw = _build("Hi", "Body", recipient="Eve <eve@evil.example>, <ada@example.com>")
    [to] = _parse(raw)["To"].addresses
    assert to.addr_spec == "ada@example.com"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Hi\x00there", "Hi there"),
        ("Notice for Ada\r\nBcc: x@example.com", "Notice for Ada Bcc: x@example.com"),
        ("Für Jürgen \u2028\u2029 \x85 Müller\t", "Für Jürgen Müller"),
        ("\x1b[31mred\x7f", "[31mred"),
    ],
)
def test_control_characters_in_a_subject_become_one_space(subject: str, expected: str) -> None:
    """A NUL, a line break or a C1 control in a subject (which may quote a name) encodes fine."""
    raw = _build(subject, "Body")
    assert [line.split(b":", 1)[0] for line in _header_lines(raw)].count(b"Subject") == 1
    assert _parse(raw)["Subject"] == expected


def test_control_characters_in_an_extra_header_value_become_one_space() -> None:
    raw = _build("Hi", "Body", headers={"X-Evil": "a\r\nBcc: victim@example.com\x00"})
    msg = _parse(raw)
    assert msg["X-Evil"] == "a Bcc: victim@example.com"
    assert msg["Bcc"] is None


def test_a_german_sharp_s_domain_is_encoded_per_idna_2008_not_mapped_to_ss() -> None:
    """IDNA 2003 sends anna@straße.de to strasse.de, a different domain."""
    assert wire_address("anna@straße.de") == "anna@xn--strae-oqa.de"
    raw = _build("Hi", "Body", recipient="Anna <anna@straße.de>", sender="S <s@bücher.de>")
    msg = _parse(raw)
    assert msg["To"].addresses[0].addr_spec == "anna@xn--strae-oqa.de"
    assert msg["From"].addresses[0].addr_spec == "s@xn--bcher-kva.de"


@pytest.mark.parametrize(
    ("address", "wire"),
    [
        ("anna@Straße.DE", "anna@xn--strae-oqa.de"),  # UTS 46 maps case first
        ("jo@ｂücher.de", "jo@xn--bcher-kva.de"),  # and full-width forms
        ("ζ@ελληνικά.gr", "ζ@xn--hxargifdar.gr"),  # final sigma kept (non-transitional)
        ("ada@Example.COM", "ada@Example.COM"),  # ASCII domains travel as given
    ],
)
def test_wire_address_uses_uts46_non_transitional_processing(address: str, wire: str) -> None:
    assert wire_address(address) == wire


def test_a_utf8_local_part_stays_raw_in_the_to_header() -> None:
    """RFC 6532: with SMTPUTF8 the address goes in the header as UTF-8, the domain as A-labels."""
    assert needs_smtputf8("josé@bücher.de")
    assert not needs_smtputf8("jose@bücher.de")
    raw = _build("Hi", "Body", recipient="José <josé@bücher.de>")
    assert "To: José <josé@xn--bcher-kva.de>".encode() not in raw  # name is still RFC 2047
    msg = email.message_from_bytes(raw, policy=email.policy.SMTPUTF8)
    assert str(msg["To"]) == "José <josé@xn--bcher-kva.de>"
    assert "josé@xn--bcher-kva.de".encode() in raw


def test_long_ascii_subjects_fold_and_unfold_losslessly() -> None:
    subject = "Important notice about your account " * 5 + "end"
    assert _parse(_build(subject, "Body"))["Subject"] == subject


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("ada@example.com", None),
        ("ada.o'brien+notices@mail.example.co.uk", None),
        ("jo@bücher.de", None),
        ("root@[192.0.2.1]", None),
        ("", "missing"),
        (None, "missing"),
        ("ada.example.com", "malformed: no @"),
        ("ada @example.com", "malformed: contains whitespace or control characters"),
        ("ada@example.com\r\nBcc: x@y.z", "malformed: contains whitespace or control characters"),
        ("@example.com", "malformed: empty local part"),
        ("ada@", "malformed: empty domain"),
        ("a..b@example.com", "malformed: invalid local part"),
        (".ab@example.com", "malformed: invalid local part"),
        ("a" * 65 + "@example.com", "malformed: local part longer than 64 octets"),
        ("ada@localhost", "malformed: domain has no dot"),
        ("ada@-bad.example.com", "malformed: invalid domain label"),
        ("ada@example..com", "malformed: invalid domain label"),
        ("ada@" + "a" * 64 + ".com", "malformed: invalid domain label"),
        ("ada@example.123", "malformed: numeric top-level domain"),
        ("a@" + ".".join(["abcdefghi"] * 26) + ".com", "malformed: address too long"),
        ("josé@example.com", None),  # valid: the channel sends it with SMTPUTF8
        ("用户@例子.广告", None),
        ("anna@straße.de", None),
        ("é" * 33 + "@example.com", "malformed: local part longer than 64 octets"),
        ("jo sé@example.com", "malformed: contains whitespace or control characters"),
        ("jo\x85sé@example.com", "malformed: contains whitespace or control characters"),
        ("josé\u2028@example.com", "malformed: contains whitespace or control characters"),
        ("jo..sé@example.com", "malformed: invalid local part"),
        ("anna@ü..de", "malformed: invalid domain label"),
        (
            "anna@☃.net",
            IDNA + " (codepoint U+2603 at position 1 not allowed)",
        ),
        (
            "anna@xn--ls8h.la",
            IDNA + " (codepoint U+1F4A9 at position 1 not allowed)",
        ),
        ("anna@xn--zz.de", IDNA + " (invalid A-label)"),
        (
            "anna@ab\u200d.de",
            IDNA + " (joiner U+200D not allowed at position 3)",
        ),
        (
            "anna@\u0300ab.de",
            IDNA + " (label begins with an illegal combining character)",
        ),
        (
            "anna@-ü.de",
            IDNA + " (label must not start or end with a hyphen)",
        ),
        ("ada@[300.1.1.1]", "malformed: invalid address literal"),
    ],
)
def test_address_problem_explains_why_an_address_is_unusable(
    address: str | None, problem: str | None
) -> None:
    assert address_problem(address) == problem


def _per_message_us(build: object, n: int) -> float:
    assert callable(build)
    build(0)
    start = time.perf_counter()
    for i in range(n):
        build(i)
    return (time.perf_counter() - start) / n * 1e6


def test_building_bytes_directly_is_several_times_faster_than_an_email_message() -> None:
    subject, text = SAMPLES["de"]
    text, html = text * 10, "<p>" + text * 10 + "</p>"

    def fast(i: int) -> bytes:
        return _build(subject, text, html, recipient=f"p{i}@example.com")

    def stdlib(i: int) -> bytes:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "sec@example.org", f"p{i}@example.com", subject
        msg["Message-ID"], msg["Date"] = f"<{i}@example.org>", DATE
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        return msg.as_bytes(policy=SMTP)

    fast_us, stdlib_us = _per_message_us(fast, 400), _per_message_us(stdlib, 100)
    print(f"\nMIME build: {fast_us:.1f} µs/message; EmailMessage: {stdlib_us:.1f} µs/message")
    assert stdlib_us > 4 * fast_us
