"""Fast MIME: a notice's bytes built straight from a fixed multipart skeleton.

Building an `email.message.EmailMessage` per notice caps a sender near 1,000/s (see
shared/PERFORMANCE.md); the parts here are filled in with C-level codecs (binascii) instead.
Output is RFC 5322/2045/2046/2047 wire format: CRLF line ends, lines <= 78, 7-bit clean except a
recipient's UTF-8 local part, kept raw in To (RFC 6532; the channel sends it with SMTPUTF8).
Domains are IDNA 2008 (UTS 46, non-transitional): the stdlib "idna" codec is IDNA 2003, which
maps `straße.de` to `strasse.de`, another domain. Person-provided header text (names, subjects
quoting names, extra header values) has its control characters replaced, never refused.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import ipaddress
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache

import idna

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
# RFC 5321 dot-atom, widened by RFC 6531 to any non-ASCII character (controls are refused
# before this is used; surrogates can never be UTF-8).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\ud7ff\ue000-\U0010ffff-]+"
_ATEXT = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')  # RFC 5322 specials: a display name with one is quoted
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# C0, DEL, C1 and U+2028/2029: in a header each could end the line (injecting a header) or
# break a parser. A run of them, with the spaces around it, becomes one space.
_CONTROL = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
_HAS_CONTROL = re.compile(f"[{_CONTROL}]")
_CONTROL_RUN = re.compile(f"[ {_CONTROL}]*[{_CONTROL}][ {_CONTROL}]*")
_NOT_IN_ADDRESS = re.compile(rf"[\s{_CONTROL}]")
# idna's messages quote the offending label (` of 'label'`, ` in 'label'`): a contact detail.
_QUOTED_LABEL = re.compile(r""" (?:of|in) (?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")


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
    value = header_text(value)
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


def header_text(value: str) -> str:
    """`value` safe for one header line: each run of control characters, with the spaces around
    it, becomes one space. A CR/LF in a child's name must not make the guardian unreachable."""
    if _HAS_CONTROL.search(value) is None:
        return value
    return _CONTROL_RUN.sub(" ", value).strip()


def split_mailbox(value: str) -> tuple[str, str]:
    """(display name, address) of `Name <addr>` or `addr`. The address is what the last angle
    brackets hold, so no text in a (person-provided) name can add or replace a mailbox."""
    value = value.strip()
    if not value.endswith(">") or "<" not in value:
        return "", value
    cut = value.rindex("<")
    name = value[:cut].strip()
    if len(name) > 1 and name[0] == name[-1] == '"':
        name = re.sub(r"\\(.)", r"\1", name[1:-1])
    return name, value[cut + 1 : -1].strip()


def needs_smtputf8(addr: str) -> bool:
    """A non-ASCII local part can only travel with SMTPUTF8 (RFC 6531)."""
    return not addr.rpartition("@")[0].isascii()


def wire_address(addr: str) -> str:
    """The address as it goes on the wire, in headers and in the SMTP envelope alike: the domain
    as IDNA 2008 A-labels (`anna@straße.de` → `anna@xn--strae-oqa.de`); the local part as is."""
    local, _, domain = addr.rpartition("@")
    if domain.isascii():
        return addr
    return f"{local}@{_a_labels(domain)}"


@functools.lru_cache(maxsize=4096)
def _a_labels(domain: str) -> str:
    try:
        return idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError as exc:
        detail = _QUOTED_LABEL.sub("", str(exc))
        raise ValueError(detail[:1].lower() + detail[1:]) from None


def _address_header(value: str) -> bytes:
    """`Name <addr>` or `addr`: the display name cleaned and RFC 2047-encoded if needed, the
    domain IDNA-encoded, a UTF-8 local part raw (RFC 6532)."""
    name, addr = split_mailbox(header_text(value))
    if "@" not in addr:
        raise ValueError("not an email address")  # the value itself never goes into a reason
    wire = wire_address(addr).encode("utf-8")
    if not name:
        return wire
    if not name.isascii() or "=?" in name:
        phrase = encode_header_value(name)  # RFC 2047 words: never quoted, fold losslessly
    elif _SPECIALS.search(name):
        phrase = b'"' + name.replace("\\", "\\\\").replace('"', '\\"').encode("ascii") + b'"'
    else:
        phrase = name.encode("ascii")
    return phrase + b" <" + wire + b">"


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
    if _NOT_IN_ADDRESS.search(address):
        return "malformed: contains whitespace or control characters"
    if "@" not in address:
        return "malformed: no @"
    local, _, domain = address.rpartition("@")
    if not local:
        return "malformed: empty local part"
    if not _ATEXT.fullmatch(local):
        return "malformed: invalid local part"
    local_len = len(local) if local.isascii() else len(local.encode("utf-8"))
    if local_len > 64:
        return "malformed: local part longer than 64 octets"
    if not domain:
        return "malformed: empty domain"
    if domain.startswith("[") and domain.endswith("]"):
        return _literal_problem(domain[1:-1])
    if domain.isascii() and "xn--" not in domain.lower():
        return _domain_problem(domain, local_len)
    if "" in domain.split("."):
        return "malformed: invalid domain label"
    try:
        return _domain_problem(_a_labels(domain), local_len)
    except ValueError as exc:
        return f"malformed: domain is not valid IDNA 2008 ({exc})"


def _literal_problem(literal: str) -> str | None:
    try:
        ipaddress.ip_address(literal.removeprefix("IPv6:"))
    except ValueError:
        return "malformed: invalid address literal"
    return None


def _domain_problem(domain: str, local_len: int) -> str | None:
    if len(domain) > 253 or local_len + 1 + len(domain) > 254:
        return "malformed: address too long"
    return _labels_problem(domain)


@lru_cache(maxsize=65536)  # a million addresses share a few thousand domains
def _labels_problem(domain: str) -> str | None:
    labels = domain.split(".")
    if len(labels) < 2:
        return "malformed: domain has no dot"
    if not all(_LABEL.fullmatch(label) for label in labels):
        return "malformed: invalid domain label"
    if labels[-1].isdigit():
        return "malformed: numeric top-level domain"
    return None
