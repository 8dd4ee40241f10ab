"""What the CLI answers an operator under pressure: exit code 2 with one clear line for bad input,
an unknown name or an unreachable peer, and tables whole when the output is not a terminal."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incident.adapters.db import create_schema, make_engine
from tests.integration.test_substitute_public_notice import stored_incident

ROOT = Path(__file__).parents[2]


@pytest.fixture()
def incident_id(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A stored incident of three NL persons whose GDPR report is prepared."""
    monkeypatch.setenv("BREACHNOTICE_DATABASE_URL", sqlite_url)
    engine = make_engine(sqlite_url)
    create_schema(engine)
    try:
        return stored_incident(engine, 3, prefix="c")
    finally:
        engine.dispose()


def cli(*args: str) -> tuple[int, str, str]:
    from incident.entrypoints.cli import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_setting_an_unknown_report_item_exits_2_naming_it_and_the_items_there_are(
    incident_id: str,
) -> None:
    code, _, err = cli("reports", "set", incident_id, "root_cuase", "a typo")
    assert code == 2
    assert "item: 'root_cuase' is not an item of" in err
    assert "dpo_or_contact_point" in err and "likely_consequences" in err  # GDPR Art. 33(3)


def test_setting_a_known_report_item_records_it(incident_id: str) -> None:
    code, out, err = cli("reports", "set", incident_id, "likely_consequences", "Phishing.")
    assert code == 0, err
    assert "likely_consequences recorded" in out


def test_the_reports_table_is_whole_when_the_output_is_not_a_terminal(incident_id: str) -> None:
    code, out, err = cli("reports", "list", incident_id)
    assert code == 0, err
    _, listed, _ = cli("reports", "list", incident_id, "--json")
    name = json.loads(listed)[0]["name"]
    assert name in out  # not folded over two lines
    assert max(len(line) for line in out.splitlines()) > 80


def test_the_deadlines_table_is_whole_when_the_output_is_not_a_terminal(
    incident_id: str,
) -> None:
    code, out, err = cli("deadlines")
    assert code == 0, err
    assert "UTC" in out and f" {incident_id} " in out
    assert max(len(line) for line in out.splitlines()) > 80


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_with_kafka_unreachable_says_so_in_one_line_within_seconds_and_exits_2(
    tmp_path: Path,
) -> None:
    port = closed_port()
    env = os.environ | {
        "PYTHONPATH": str(ROOT),
        "BREACHNOTICE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "BREACHNOTICE_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
        "BREACHNOTICE_OUT_DIR": str(tmp_path / "out"),
        "BREACHNOTICE_CONFIRMATION__SECRET": "a-secret-for-this-test-of-at-least-32-chars",
    }
    code = "import sys; from incident.entrypoints.cli import main; main()"
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", code, "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    took = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [
        f"error: cannot reach Kafka: tried 127.0.0.1:{port} (Connection refused); "
        "check kafka.bootstrap_servers"
    ]
    assert took < 10, f"took {took:.1f} s"
