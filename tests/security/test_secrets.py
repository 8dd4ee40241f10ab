"""Issue 23, item 8: the signing secret. Many processes starting at once on a fresh out/ all
get the same complete secret (no empty one, no FileExistsError); an empty or short secret is
refused; outside --embedded no secret is made up or taken from the shipped defaults, and none
is ever printed."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from incident.bootstrap import with_secrets
from incident.errors import ConfigError
from incident.secrets_config import MIN_SECRET_CHARS
from incident.service.confirmation import SECRET_FILE, secret_of
from incident.settings import Settings
from tests.security.cli_run import breachnotice


def _start(out_dir: str, barrier: multiprocessing.synchronize.Barrier, results: object) -> None:
    barrier.wait()
    try:
        value = secret_of(Settings(out_dir=Path(out_dir))).decode()
    except Exception as exc:  # reported, so the test names the failure
        value = f"error: {type(exc).__name__}: {exc}"
    results.put(value)  # type: ignore[attr-defined]


def test_fifty_concurrent_starts_on_a_fresh_folder_share_one_complete_secret(
    tmp_path: Path,
) -> None:
    ctx = multiprocessing.get_context("fork")
    n = 50
    barrier, results = ctx.Barrier(n), ctx.Queue()
    out = tmp_path / "out"
    procs = [ctx.Process(target=_start, args=(str(out), barrier, results)) for _ in range(n)]
    for p in procs:
        p.start()
    got = [results.get(timeout=60) for _ in range(n)]
    for p in procs:
        p.join(timeout=30)
    assert len(set(got)) == 1, sorted(set(got))[:3]
    assert len(got[0]) >= MIN_SECRET_CHARS and not got[0].startswith("error")
    assert (out / SECRET_FILE).read_text().strip() == got[0]
    assert [p.name for p in out.iterdir()] == [SECRET_FILE]  # no temporary left behind
    assert (out / SECRET_FILE).stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("value", ["", "   ", "QwErTy9", "Zq" * (MIN_SECRET_CHARS // 2 - 1)])
def test_an_empty_or_short_stored_secret_is_refused_without_showing_it(
    tmp_path: Path, value: str
) -> None:
    (tmp_path / SECRET_FILE).write_text(value)
    with pytest.raises(ConfigError) as caught:
        secret_of(Settings(out_dir=tmp_path))
    assert value.strip() == "" or value not in str(caught.value)


def test_a_short_configured_secret_is_refused_without_showing_it(tmp_path: Path) -> None:
    settings = Settings(out_dir=tmp_path, confirmation={"secret": "hunter2-hunter2"})
    with pytest.raises(ConfigError) as caught:
        secret_of(settings)
    assert "hunter2" not in str(caught.value) and "confirmation.secret" in str(caught.value)


def test_outside_embedded_no_secret_is_made_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"confirmation\.secret"):
        with_secrets(Settings(out_dir=tmp_path), embedded_ok=False)
    assert not (tmp_path / SECRET_FILE).exists()
    embedded = with_secrets(Settings(out_dir=tmp_path), embedded_ok=True)
    assert len(embedded.confirmation.secret) >= MIN_SECRET_CHARS  # made, for --embedded only


def test_secrets_come_from_files_and_are_never_in_a_repr(tmp_path: Path) -> None:
    secret, password = "s" * 40, "smtp-password-from-a-mounted-file"
    (tmp_path / "link.key").write_text(secret + "\n")
    pw_file = tmp_path / "smtp.pw"
    pw_file.write_text(password)
    settings = Settings(
        out_dir=tmp_path,
        confirmation={"secret_file": str(tmp_path / "link.key")},
        channels={
            "email": {"host": "smtp.example.org", "password_file": str(tmp_path / "smtp.pw")}
        },
    )
    assert with_secrets(settings, embedded_ok=False).confirmation.secret == secret
    assert settings.channels["email"]["password"] == password
    assert secret not in repr(settings.confirmation)
    with pytest.raises(ConfigError, match="secret file"):
        Settings(confirmation={"secret_file": str(tmp_path / "missing")})


def test_serve_without_embedded_and_without_a_secret_exits_2_naming_the_setting(
    tmp_path: Path,
) -> None:
    env = {"BREACHNOTICE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    done = breachnotice("serve", env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "confirmation.secret" in done.stderr
    assert not (tmp_path / "out" / SECRET_FILE).exists()
