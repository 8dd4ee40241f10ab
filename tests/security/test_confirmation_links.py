"""Item 4 of issue 23: opening a confirmation link confirms nothing; only the page's button
(a POST of the token) does, once; an old link is refused with a page saying so. Over real HTTP
to uvicorn."""

from __future__ import annotations

import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import Session, select

from incident.adapters.tables import DeliveryAttempt, DeliveryEvent
from tests.security.conftest import Service
from tests.security.seeding import seed_email_and_letter, state
from tests.support.links import follow

SAFE_LINKS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0 (Microsoft Defender for Office 365 Safe Links)"
)


def request(url: str, method: str = "GET", **headers: str) -> tuple[int, str]:
    data = b"" if method == "POST" else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, refused.read().decode()


def test_a_mail_scanner_opening_the_link_confirms_nothing(service: Service) -> None:
    key, token = seed_email_and_letter(service.engine)
    before = state(service.engine)
    url = f"{service.url}/notices/confirm/{token}"
    for _ in range(3):  # scanners open a link more than once, and with several agents
        for agent in (SAFE_LINKS, "Mozilla/5.0 (compatible; Googlebot/2.1)", "curl/8.5.0"):
            status, page = request(url, **{"User-Agent": agent})
            assert status == 200 and '<form method="post"' in page
    assert state(service.engine) == before  # the notice stays sent, the letter still comes
    status, page = follow(url)  # the person presses the button
    assert status == 200 and "Thank you" in page
    with Session(service.engine) as s:
        assert s.get(DeliveryAttempt, key).status == "confirmed"  # type: ignore[union-attr]
        assert s.get(DeliveryAttempt, "I1:p1:letter:1").status == "cancelled"  # type: ignore[union-attr]


def test_two_hundred_replayed_posts_confirm_once(service: Service) -> None:
    key, token = seed_email_and_letter(service.engine)
    url = f"{service.url}/notices/confirm/{token}"
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: request(url, "POST")[0], range(200)))
    assert answers == [200] * 200
    with Session(service.engine) as s:
        events = s.exec(select(DeliveryEvent).where(DeliveryEvent.idempotency_key == key)).all()
    assert [(e.status, e.source) for e in events] == [("confirmed", "confirmation_link")]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_expired_link_is_refused_with_a_page_saying_so(service: Service, method: str) -> None:
    _, token = seed_email_and_letter(service.engine, sent_days_ago=91)  # valid for 90 days
    before = state(service.engine)
    status, page = request(f"{service.url}/notices/confirm/{token}", method)
    assert status == 410 and "This confirmation link has expired" in page
    assert state(service.engine) == before
