"""Follow a link from a received message the way a person's browser does: GET it, and where
the page holds a `<form method="post">`, submit that form with its fields."""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from email import message_from_bytes, policy
from email.message import EmailMessage

_FORM = re.compile(r"<form[^>]*method=[\"']?post[\"']?[^>]*>(.*?)</form>", re.I | re.S)
_ACTION = re.compile(r"<form[^>]*action=[\"']([^\"']*)[\"']", re.I)
_INPUT = re.compile(r"<input[^>]*name=[\"']([^\"']+)[\"'][^>]*value=[\"']([^\"']*)[\"']", re.I)


def text_of(data: bytes) -> str:
    """The text/plain part of a received email."""
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None, "the email has no text part"
    return str(part.get_content())


def links_in(text: str, prefix: str) -> list[str]:
    return re.findall(re.escape(prefix) + r"[^\s<>\"')]+", text)


def follow(url: str, *, timeout: float = 10) -> tuple[int, str]:
    """Status and body of the page the link leads to, after submitting its form if any."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        status, page = response.status, response.read().decode("utf-8", "replace")
    form = _FORM.search(page)
    if form is None:
        return status, page
    action = _ACTION.search(page)
    target = urllib.parse.urljoin(url, action.group(1) if action else url)
    fields = dict(_INPUT.findall(form.group(1)))
    request = urllib.request.Request(target, data=urllib.parse.urlencode(fields).encode())
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.read().decode("utf-8", "replace")
