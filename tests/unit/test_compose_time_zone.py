"""The Composer dates each notice in its reader's time zone, also from its render cache."""

from __future__ import annotations

from datetime import UTC, datetime

from incident.adapters.tables import Incident, Person
from incident.rendering import Renderer
from incident.service.compose import Composer, Delivery
from incident.settings import templates_dir

INCIDENT = Incident(
    id="INC-1",
    title="Leak",
    severity="high",
    status="raised",
    description={"en": "An attacker read a table."},
    impact={"en": "Phishing."},
    measures_taken={"en": "Key revoked."},
    measures_planned={"en": "Hardware keys."},
    advice={"en": ""},
    remedies={"en": "Monitoring."},
    categories=["contact"],
    contact={"email": "privacy@example.org"},
    aware_at=datetime(2026, 3, 6, 15, tzinfo=UTC),
)


def delivery(person: Person) -> Delivery:
    return Delivery("INC-1:p:email:1", 1, "email", INCIDENT, person, person, ("contact",))


def test_two_readers_of_one_render_combination_get_dates_in_their_own_zones() -> None:
    composer = Composer(
        Renderer(templates_dir()), message_domain="example.org", message_key=b"test-message-key"
    )
    amsterdam = Person(id="a", name="A", country="NL", locale="en")
    los_angeles = Person(id="b", name="B", country="US", region="US-CA", locale="en")
    unknown = Person(id="c", name="C", country="XX", locale="en")

    texts = [composer.render(delivery(p)).text for p in (amsterdam, los_angeles, unknown)]

    assert "aware of the incident on 6 March 2026, 16:00 CET." in texts[0]
    assert "aware of the incident on 6 March 2026, 07:00 PST." in texts[1]
    assert "aware of the incident on 6 March 2026, 15:00 UTC." in texts[2]
    assert composer.context(delivery(los_angeles)).time_zone == "America/Los_Angeles"
