"""Schema migrations (Alembic), shipped inside the package so an installed wheel finds them.

`incident.adapters.db.upgrade_to_head(engine)` (or `breachnotice db upgrade`) brings a
database to the newest revision; `breachnotice db current` shows where one stands. There is
no alembic.ini: `alembic_config(connection)` builds the configuration in code and env.py runs
on that connection, so PostgreSQL's search_path decides the schema of every table and of
`alembic_version`. On SQLite, env.py turns on batch mode (`render_as_batch`): an ALTER that
SQLite cannot do is done by copying the table.

`0001_baseline` is, written out by hand, exactly the schema release 0.1.0 made with
`create_all`. Never edit it, nor any revision that has shipped: a database made by 0.1.0 is
stamped at `0001_baseline` (never recreated) and then upgraded like any other.

Adding a revision (e.g. for new tables): change the models in `incident/adapters/*tables.py`,
then autogenerate against a fresh database at head and edit what it wrote:

    breachnotice db revision "contact points" --rev-id 0002_contact_points

writes `versions/0002_contact_points.py` with plain `sa.` types (never import the models
there: a revision must keep creating what it created when it shipped); `ruff check --fix` and
`ruff format` it. It compares against SQLite, so its ALTERs are batch operations, which run
as plain ALTERs on PostgreSQL. Read it: autogenerate
misses renames (it writes drop + add), server defaults a NOT NULL column needs on existing
rows, and data moves; name every new constraint and index. Then run
`tests/integration/test_migrations.py`: it upgrades a 0.1.0 database with rows in it on SQLite
and PostgreSQL, and fails while the models and the revisions disagree.
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent
BASELINE = "0001_baseline"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for this package; env.py runs on `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s")  # versions/<revision id>.py
    config.attributes["connection"] = connection
    return config


def script_directory() -> ScriptDirectory:
    """The revisions this build ships."""
    return ScriptDirectory.from_config(alembic_config())
