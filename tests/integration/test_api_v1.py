"""The HTTP API: every route declares its roles and refuses a missing, unknown, expired or
revoked token (401) and a wrong role (403); a reporter raises, a second person approves;
problems are RFC 9457 naming field, value and rule; Idempotency-Key answers a retry once.
On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from incident.adapters.documents import load_document
from incident.adapters.tables import AuditEvent, Incident
from incident.entrypoints.api_auth import RouteInfo, walk_routes
from incident.entrypoints.http_app import create_app
from incident.service.tokens import Role, create_token, revoke_token
from incident.settings import Settings

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
EXAMPLE = Path(__file__).parents[2] / "config" / "examples" / "incident.yaml"


def document() -> dict[str, Any]:
    return json.loads(json.dumps(load_document(EXAMPLE), default=str))


@pytest.fixture()
def client(engine: Engine) -> Iterator[TestClient]:
    app = create_app(engine, Settings(), lambda job: None, clock=lambda: NOW, secret=b"k" * 32)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def bearer(engine: Engine, role: Role, name: str | None = None, **kw: Any) -> dict[str, str]:
    made = create_token(engine, name=name or f"{role.value}-user", role=role, now=NOW, **kw)
    return {"Authorization": f"Bearer {made.secret}"}


def all_routes(client: TestClient) -> dict[str, RouteInfo]:
    return {r.path: r for r in walk_routes(client.app.routes)}  # type: ignore[attr-defined]


def api_routes(client: TestClient) -> list[RouteInfo]:
    routes = walk_routes(client.app.routes)  # type: ignore[attr-defined]
    return [r for r in routes if r.path.startswith("/api/") or r.path == "/metrics"]


def calls(client: TestClient) -> Iterator[tuple[RouteInfo, str, str]]:
    for route in api_routes(client):
        path = route.path.replace("{incident_id}", "INC-20261120-00000000")
        for method in sorted(route.methods):
            yield route, method, path


def test_every_api_route_declares_its_roles_and_none_is_public(client: TestClient) -> None:
    routes = api_routes(client)
    assert len(routes) >= 8
    for route in routes:
        assert route.roles not in (False, None), f"{route.path} declares no role"
        assert isinstance(route.roles, frozenset) and Role.ADMIN in route.roles
    every = all_routes(client)
    assert every["/healthz"].roles is None and every["/readyz"].roles is None  # public, on purpose


def test_every_api_route_refuses_no_unknown_expired_revoked_and_wrong_role_tokens(
    client: TestClient, engine: Engine
) -> None:
    expired = bearer(engine, Role.ADMIN, "old", expires_days=1)  # made at NOW: expires later
    with Session(engine) as s:  # ... so move its expiry to before NOW
        from incident.adapters.operator_tables import ApiToken

        for row in s.exec(select(ApiToken).where(ApiToken.name == "old")):
            row.expires_at = NOW - timedelta(seconds=1)
            s.add(row)
        s.commit()
    revoked = bearer(engine, Role.ADMIN, "gone")
    revoke_token(engine, "gone", now=NOW)
    tokens = {role: bearer(engine, role) for role in Role}
    refused = {
        "none": {},
        "not bearer": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "unknown": {"Authorization": "Bearer bn_not-a-token"},
        "expired": expired,
        "revoked": revoked,
    }
    checked = 0
    for route, method, path in calls(client):
        for why, headers in refused.items():
            response = client.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (method, path, why, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.headers["www-authenticate"].startswith("Bearer")
            checked += 1
        roles = route.roles
        assert isinstance(roles, frozenset)
        for role in set(Role) - roles:
            response = client.request(method, path, headers=tokens[role], json={})
            assert response.status_code == 403, (method, path, role, response.text)
            assert response.json()["status"] == 403
            checked += 1
    assert checked > 40
    with Session(engine) as s:
        outcomes = {
            a.detail["outcome"]
            for a in s.exec(select(AuditEvent).where(AuditEvent.kind == "token_used"))
        }
    assert {"expired", "revoked", "forbidden"} <= outcomes


def test_a_reporter_raises_a_draft_and_only_a_second_person_approves_it(
    client: TestClient, engine: Engine
) -> None:
    reporter = bearer(engine, Role.REPORTER, "riley")
    raised = client.post("/api/v1/incidents", headers=reporter, json=document())
    assert raised.status_code == 201, raised.text
    incident_id = raised.json()["incident_id"]
    assert raised.json()["status"] == "draft" and raised.json()["reported_by"] == "riley"
    path = f"/api/v1/incidents/{incident_id}/approve"
    assert client.post(path, headers=reporter).status_code == 403  # not an approver
    same = client.post(path, headers=bearer(engine, Role.APPROVER, "Riley"))
    assert same.status_code == 422
    assert same.json()["errors"][0]["field"] == "by"
    assert "reporter cannot approve" in same.json()["errors"][0]["rule"]
    other = client.post(path, headers=bearer(engine, Role.APPROVER, "avery"))
    assert other.status_code == 200, other.text
    assert other.json()["by"] == "avery" and other.json()["version"] == 1
    again = client.post(path, headers=bearer(engine, Role.APPROVER, "sam"))
    assert again.status_code == 422 and "not a draft" in again.json()["errors"][0]["rule"]
    status = client.get(f"/api/v1/incidents/{incident_id}", headers=bearer(engine, Role.VIEWER))
    assert status.json()["status"] == "raised"
    assert [a["by"] for a in status.json()["approvals"]] == ["avery"]
    listed = client.get("/api/v1/incidents?limit=1", headers=bearer(engine, Role.VIEWER)).json()
    assert [i["incident_id"] for i in listed["items"]] == [incident_id]
    assert listed["next_offset"] is None


def test_an_idempotency_key_answers_a_retried_raise_once(
    client: TestClient, engine: Engine
) -> None:
    headers = {**bearer(engine, Role.REPORTER, "riley"), "Idempotency-Key": "raise-1"}
    first = client.post("/api/v1/incidents", headers=headers, json=document())
    second = client.post("/api/v1/incidents", headers=headers, json=document())
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    with Session(engine) as s:
        assert len(s.exec(select(Incident)).all()) == 1
    changed = {**document(), "title": "Another incident"}
    reused = client.post("/api/v1/incidents", headers=headers, json=changed)
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "Idempotency-Key"


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"title": "x"}', b"\xff\xfe", json.dumps({"severity": 7}).encode()],
)
def test_bad_bodies_get_problem_details_naming_field_value_and_rule(
    client: TestClient, engine: Engine, body: bytes
) -> None:
    response = client.post(
        "/api/v1/incidents",
        headers={**bearer(engine, Role.REPORTER), "Content-Type": "application/json"},
        content=body,
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["status"] == 422 and problem["errors"]
    assert {"field", "value", "rule"} <= set(problem["errors"][0])


def test_metrics_and_readiness(client: TestClient, engine: Engine) -> None:
    client.post("/api/v1/incidents", headers=bearer(engine, Role.REPORTER), json=document())
    metrics = client.get("/metrics", headers=bearer(engine, Role.VIEWER))
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'breachnotice_incidents{status="draft"} 1' in metrics.text
    assert "breachnotice_outbox_pending 1" in metrics.text
    assert "# TYPE breachnotice_obligation_margin_seconds gauge" in metrics.text
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_the_audit_rows_of_api_use_are_chained_and_verify(
    client: TestClient, engine: Engine
) -> None:
    admin = bearer(engine, Role.ADMIN, "root")
    client.post("/api/v1/incidents", headers=bearer(engine, Role.REPORTER), json=document())
    verdict = client.get("/api/v1/audit/verify", headers=admin).json()
    assert verdict["ok"] and verdict["rows"] >= 3
    rows = client.get("/api/v1/audit?limit=2", headers=admin).json()
    assert [r["seq"] for r in rows["items"]] == [1, 2] and rows["next_after"] == 2
    with Session(engine) as s:
        kinds = [a.kind for a in s.exec(select(AuditEvent).order_by(col(AuditEvent.id)))]
    assert "token_used" in kinds and "incident_raised" in kinds
