"""Per-message cost of channels.mime.build_message against building a stdlib EmailMessage.

Run: .venv/bin/python bench/mime.py [N]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP

from channels.mime import build_message

SENDER = "Security Team <security@example.org>"
SUBJECT = "Important: a security incident involving your personal data (INC-2024-0042)"
LINE = "We are writing to tell you about a security incident that involved your data. "
TEXT = ("Dear Ada Lovelace,\n\n" + LINE * 8 + "\n") * 6
HTML = "<p>" + TEXT.replace("\n\n", "</p>\n<p>") + "</p>"
DATE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def fast(i: int) -> bytes:
    return build_message(
        sender=SENDER,
        recipient=f"person{i}@example.com",
        subject=SUBJECT,
        text=TEXT,
        html=HTML,
        message_id=f"inc-42.p{i}.email.1@notices.example.org",
        date=DATE,
    )


def stdlib(i: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = f"person{i}@example.com"
    msg["Subject"] = SUBJECT
    msg["Date"] = DATE
    msg["Message-ID"] = f"<inc-42.p{i}.email.1@notices.example.org>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(TEXT)
    msg.add_alternative(HTML, subtype="html")
    return msg.as_bytes(policy=SMTP)


def per_message_us(build: Callable[[int], bytes], n: int) -> float:
    build(0)  # warm caches (header address parsing, codecs)
    start = time.perf_counter()
    for i in range(n):
        build(i)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    fast_us, stdlib_us = per_message_us(fast, n), per_message_us(stdlib, n)
    size = len(fast(0))
    print(f"{n} messages of ~{size} bytes")
    print(f"channels.mime.build_message: {fast_us:8.1f} µs/message ({1e6 / fast_us:,.0f}/s)")
    print(f"email.message.EmailMessage:  {stdlib_us:8.1f} µs/message ({1e6 / stdlib_us:,.0f}/s)")
    print(f"speed-up: {stdlib_us / fast_us:.1f}x")


if __name__ == "__main__":
    main()
