"""`breachnotice --help` starts fast: the entry module imports no database, queue or channel
library (each command imports what it needs when it runs). Timed in bench/cli_startup.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from incident.entrypoints import cli_people
from incident.service import directory_import

ROOT = Path(__file__).parents[2]
HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "kafka", "aiosmtplib", "twilio", "aiohttp",
         "reportlab", "jinja2", "pydantic_settings", "channels")  # fmt: skip


def modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    return {name.split(".")[0] for name in json.loads(out.splitlines()[-1])}


def test_importing_the_cli_imports_no_database_queue_or_channel_library() -> None:
    loaded = modules_after("import incident.entrypoints.cli")
    assert sorted(loaded & set(HEAVY)) == []


def test_building_the_help_of_every_command_imports_none_of_them_either() -> None:
    code = (
        "import typer.main\nfrom incident.entrypoints.cli import app\ntyper.main.get_command(app)"
    )
    assert sorted(modules_after(code) & set(HEAVY)) == []


def test_the_import_batch_the_cli_offers_is_the_importer_s_own() -> None:
    assert cli_people.BATCH == directory_import.BATCH
