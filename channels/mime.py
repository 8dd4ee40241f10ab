"""Fast MIME: a notice's bytes built straight from a fixed multipart skeleton.

Building an `email.message.EmailMessage` per notice caps a sender near 1,000/s (see
shared/PERFORMANCE.md); the parts here are filled in with C-level codecs (binascii) instead.
Output is RFC 5322/2045/2046/2047 wire format: CRLF line ends, 7-bit clean, lines <= 78.
"""

from __future__ import annotations

import binascii
import hashlib
import ipaddress
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, formataddr, parseaddr

CRLF = b"\r\n"
# Bytes of UTF-8 per RFC 2047 encoded-word: 42 bytes -> 56 base64 chars + 12 of framing = 68,
# so even the first line ("Subject: " + word) stays within the recommended 78 characters.
_WORD_BYTES = 42
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII except ':' (RFC 5322 ftext)
# Headers this module owns; letting callers set them would produce a broken or misleading message.
_RESERVED = frozenset(
    {"from", "to", "subject", "date", "message-id", "mime-version", "auto-submitted"}
    | {"content-type", "content-transfer-encoding"}
)
# Notices are mandatory: an unsubscribe link would promise an opt-out the law does not allow.
_FORBIDDEN = frozenset({"list-unsubscribe", "list-unsubscribe-post"})
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def build_message(
    *,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    html: str | None,
    message_id: str,
    date: datetime | None = None,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """The complete message as SMTP DATA bytes; identical inputs give identical bytes."""
    mid = _message_id(message_id)
    head = [
        b"From: " + _address_header(sender),
        b"To: " + _address_header(recipient),
        b"Subject: " + encode_header_value(subject),
        b"Date: " + format_datetime(date or datetime.now(UTC)).encode("ascii"),
        b"Message-ID: " + mid,
        b"MIME-Version: 1.0",
        b"Auto-Submitted: auto-generated",
    ]
    for name, value in (headers or {}).items():
        head.append(_extra_header(name, value))
    if html is None:
        # SMTP needs a final line break; add one only if the text lacks it, so it survives.
        single = CRLF.join(head) + CRLF + _part(b"plain", text)
        return single if single.endswith(CRLF) else single + CRLF
    # Derived from the Message-ID, so a resend of the same notice is byte-identical. "=_" can
    # occur in neither quoted-printable nor base64 output, so it never collides with a body.
    boundary = b"=_" + hashlib.sha256(mid).hexdigest()[:40].encode("ascii")
    head.append(b'Content-Type: multipart/alternative;\r\n boundary="' + boundary + b'"')
    delimiter = CRLF + b"--" + boundary + CRLF
    preamble = b"This is a multi-part message in MIME format."
    parts = delimiter.join((preamble, _part(b"plain", text), _part(b"html", html)))
    return CRLF.join(head) + CRLF + CRLF + parts + CRLF + b"--" + boundary + b"--" + CRLF


def _part(subtype: bytes, text: str) -> bytes:
    """One text part, headers and body, in canonical form (CRLF line breaks, RFC 2046)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = text.encode("utf-8")
    # Each non-ASCII character adds 1-3 bytes over its length; when many do, quoted-printable
    # would triple the size (=E4=BD=A0 per CJK char) and base64 is the compact choice.
    if (len(data) - len(text)) * 4 > len(data):
        crlf_data = data.replace(b"\n", CRLF)
        # 57 bytes per call is one 76-character base64 line.
        body = CRLF.join(
            binascii.b2a_base64(crlf_data[i : i + 57], newline=False)
            for i in range(0, len(crlf_data), 57)
        )
        cte = b"base64"
    else:
        # b2a_qp keeps the input's line breaks and soft-wraps at 76: feed it LF, emit CRLF.
        body = binascii.b2a_qp(data, istext=True).replace(b"\n", CRLF)
        cte = b"quoted-printable"
    head = b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: %s\r\n\r\n'
    return head % (subtype, cte) + body


def encode_header_value(value: str) -> bytes:
    """A header value as 7-bit bytes: plain when safe, else RFC 2047 base64 encoded-words."""
    if "\r" in value or "\n" in value:
        raise ValueError("header values must not contain CR or LF")
    if value.isascii() and "=?" not in value and len(value) <= 900:
        return _fold_ascii(value)
    words: list[bytes] = []
    chunk: list[str] = []
    size = 0
    for char in value:
        width = len(char.encode("utf-8"))
        if size + width > _WORD_BYTES and chunk:
            words.append(_encoded_word("".join(chunk)))
            chunk, size = [], 0
        chunk.append(char)
        size += width
    if chunk:
        words.append(_encoded_word("".join(chunk)))
    # Whitespace between adjacent encoded-words is dropped by decoders, so folding is lossless.
    return b"\r\n ".join(words)


def _encoded_word(text: str) -> bytes:
    return b"=?utf-8?b?" + binascii.b2a_base64(text.encode("utf-8"), newline=False) + b"?="


def _fold_ascii(value: str) -> bytes:
    if len(value) <= 68:
        return value.encode("ascii")
    lines, current = [], ""
    for word in value.split(" "):
        if current and len(current) + 1 + len(word) > 76:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    # Unfolding removes only the CRLF, so the space that starts each continuation is kept.
    return "\r\n ".join(lines).encode("ascii")


def ascii_address(addr: str) -> str:
    """The address as it goes on the wire, in headers and in the SMTP envelope alike: an
    internationalised domain IDNA-encoded (`anna@bücher.de` → `anna@xn--bcher-kva.de`)."""
    local, _, domain = addr.rpartition("@")
    if not local.isascii():
        raise ValueError("non-ASCII local parts need SMTPUTF8, which notices do not use")
    return f"{local}@{domain.encode('idna').decode('ascii')}"


def _address_header(value: str) -> bytes:
    """`Name <addr>` or `addr`, display name RFC 2047-encoded and domain IDNA-encoded if needed."""
    if "\r" in value or "\n" in value:
        raise ValueError("addresses must not contain CR or LF")
    name, addr = parseaddr(value)
    if not addr or "@" not in addr:
        raise ValueError(f"not an email address: {value!r}")
    addr = ascii_address(addr)
    if not name:
        return addr.encode("ascii")
    # formataddr quotes specials and RFC 2047-encodes a non-ASCII display name.
    return formataddr((name, addr), charset="utf-8").encode("ascii")


def _message_id(message_id: str) -> bytes:
    core = message_id.strip().removeprefix("<").removesuffix(">")
    if not core or "@" not in core or not core.isascii() or any(c in core for c in " <>\r\n\t"):
        raise ValueError(f"not a valid Message-ID: {message_id!r}")
    return b"<" + core.encode("ascii") + b">"


def _extra_header(name: str, value: str) -> bytes:
    if not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"invalid header name: {name!r}")
    lowered = name.lower()
    if lowered in _FORBIDDEN:
        raise ValueError(f"{name} is not allowed: breach notices are mandatory")
    if lowered in _RESERVED:
        raise ValueError(f"{name} is set by build_message, not by extra headers")
    return name.encode("ascii") + b": " + encode_header_value(value)


def address_problem(address: str | None) -> str | None:
    """Why `address` is not a usable mailbox (RFC 5321 syntax and lengths), or None."""
    if not address or not address.strip():
        return "missing"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in address):
        return "malformed: contains whitespace or control characters"
    if "@" not in address:
        return "malformed: no @"
    local, _, domain = address.rpartition("@")
    if not local:
        return "malformed: empty local part"
    if not local.isascii():
        return "unsupported: non-ASCII local part (needs SMTPUTF8)"
    if len(local) > 64:
        return "malformed: local part longer than 64 octets"
    if not _ATEXT.fullmatch(local):
        return "malformed: invalid local part"
    if not domain:
        return "malformed: empty domain"
    if domain.startswith("[") and domain.endswith("]"):
        return _literal_problem(domain[1:-1])
    if domain.isascii():
        return _domain_problem(domain, len(local))
    if "" in domain.split("."):
        return "malformed: invalid domain label"
    try:
        return _domain_problem(domain.encode("idna").decode("ascii"), len(local))
    except UnicodeError:
        return "malformed: domain is not IDNA-encodable"


def _literal_problem(literal: str) -> str | None:
    try:
        ipaddress.ip_address(literal.removeprefix("IPv6:"))
    except ValueError:
        return "malformed: invalid address literal"
    return None


def _domain_problem(domain: str, local_len: int) -> str | None:
    if len(domain) > 253 or local_len + 1 + len(domain) > 254:
        return "malformed: address too long"
    labels = domain.split(".")
    if len(labels) < 2:
        return "malformed: domain has no dot"
    if not all(_LABEL.fullmatch(label) for label in labels):
        return "malformed: invalid domain label"
    if labels[-1].isdigit():
        return "malformed: numeric top-level domain"
    return None
