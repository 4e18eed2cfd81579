"""The ``salesbot`` command line: help everywhere, clear configuration errors, token cleanup."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from salesbot_http.cli import describe_assistant, describe_database, main
from salesbot_http.database import redact
from salesbot_http.settings import Settings

SECRET = "s" * 40


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name in ("DATABASE_URL", "DB_HOST", "JWT_SECRET", "JWT_REFRESH_SECRET", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SALESBOT_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["db"],
        ["db", "upgrade"],
        ["db", "downgrade"],
        ["db", "current"],
        ["db", "history"],
        ["db", "revision"],
        ["tokens"],
        ["tokens", "cleanup"],
    ],
)
def test_every_command_has_help(runner: CliRunner, command: list[str]) -> None:
    result = runner.invoke(main, [*command, "--help"], prog_name="salesbot")

    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: salesbot")


def test_serve_help_names_its_options(runner: CliRunner) -> None:
    output = runner.invoke(main, ["serve", "--help"]).output
    for option in ("--host", "--port", "--workers"):
        assert option in output


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DATABASE_URL": "postgresql://db/x", "JWT_SECRET": "short"}, "JWT_SECRET"),
        ({"DATABASE_URL": "postgresql://db/x"}, "JWT_SECRET"),
        ({"PORT": "eighty"}, "PORT"),
        ({"JWT_EXPIRES_IN": "forever"}, "JWT_EXPIRES_IN"),
        ({"BCRYPT_ROUNDS": "40"}, "BCRYPT_ROUNDS"),
    ],
)
@pytest.mark.parametrize("command", [["serve"], ["tokens", "cleanup"], ["db", "current"]])
def test_a_configuration_error_is_one_line_and_exit_2(
    runner: CliRunner, env: dict[str, str], variable: str, command: list[str]
) -> None:
    result = runner.invoke(main, command, env=env)

    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert variable in lines[0]
    assert "Traceback" not in result.output


def test_tokens_cleanup_reports_what_it_deleted(runner: CliRunner) -> None:
    result = runner.invoke(
        main,
        ["tokens", "cleanup"],
        env={
            "JWT_SECRET": SECRET,
            "JWT_REFRESH_SECRET": SECRET,
            "DATABASE_URL": "postgresql://x/y",
        },
    )

    assert result.exit_code == 0, result.output
    assert "deleted 0 stale refresh token(s)" in result.output


def test_the_database_url_is_logged_without_its_password() -> None:
    assert redact("postgresql://app:s3cret@db:5432/shop") == "postgresql://app:***@db:5432/shop"
    assert redact("postgresql://app@db/shop") == "postgresql://app@db/shop"
    settings = Settings(database_url="postgresql://app:s3cret@db/shop")
    assert "s3cret" not in describe_database(settings, settings.database_url)


def test_the_startup_log_says_which_assistant_answers() -> None:
    assert "offline" in describe_assistant(Settings())
    online = Settings(openai_api_key="sk-x", openai_base_url="http://localhost:11434/v1")
    described = describe_assistant(online)
    assert "gpt-4o-mini" in described
    assert "http://localhost:11434/v1" in described
    assert "sk-x" not in described
