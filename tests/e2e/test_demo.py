"""`breachnotice demo` as a user runs it: the installed entry point in an empty folder, to the
end: people told, the public notice site, the regulator reports and the evidence pack."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path


def _entry_point() -> str:
    beside = Path(sys.executable).with_name("breachnotice")
    found = str(beside) if beside.exists() else shutil.which("breachnotice")
    assert found, "the breachnotice entry point is not installed"
    return found


def test_demo_with_200_people_ends_with_the_notice_site_reports_and_evidence(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREACHNOTICE_")}
    # The entry point runs this checkout's code (not whatever the environment installed).
    env.update(COLUMNS="200", BREACHNOTICE_LOG_FORMAT="json",
               PYTHONPATH=str(Path(__file__).parents[2]))  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(
        [_entry_point(), "demo", "--people", "200"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-4000:]
    assert elapsed < 60, elapsed
    out = tmp_path / "out"
    incident_id = next((out / "public" / "notices").iterdir()).name
    assert incident_id.startswith("INC-")
    assert any((out / "mail" / "new").iterdir())
    assert any(p.is_file() for p in (out / "sms").rglob("*")) or any(
        p.is_file() for p in (out / "letters").rglob("*")
    )
    site = json.loads((out / "public" / "notices" / incident_id / "manifest.json").read_text())
    assert site["latest"] == 1
    assert (out / "reports" / incident_id / "manifest.json").is_file() or (
        "blocked report" in done.stderr
    )
    pack = json.loads((out / "evidence" / incident_id / "manifest.json").read_text())
    assert pack["incident"] == incident_id
    assert {"notices.csv", "events.csv", "obligations.csv", "summary.pdf"} <= set(pack["files"])
    summary = done.stderr
    for shown in ("fallbacks taken", "left unreachable, by reason", "public notice: sent"):
        assert shown in summary, shown
    assert str(Path("out") / "evidence" / incident_id) in summary
    page = (out / "public" / "notices" / incident_id / "en" / "index.html").read_text()
    happened = re.search(r"It happened on or around (\d+ \w+) \d{4}", page)
    assert happened is not None and f"On {happened.group(1)} an attacker" in page  # one date
