"""The CLI's failure surface: one line per error in the user's terms, one table of exit codes, readable help."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from storeswap.cli import _register_all, app, exit_codes, main
from storeswap.core.errors import ConfigurationError, OutcomeUnknown, StoreUnavailable, TableNotFound
from storeswap.evaluate.document import EXIT_CODES

README = Path(__file__).resolve().parents[1] / "README.md"
REFUSED_PG = "postgresql://postgres@127.0.0.1:1/db"


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_a_refused_postgres_connection_is_one_line_naming_host_and_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tables", "--store", REFUSED_PG]) == exit_codes.UNAVAILABLE == 3
    line = _one_line(capsys.readouterr().err)
    assert line == "error: StoreUnavailable: cannot connect to PostgreSQL at 127.0.0.1:1: connection refused"


def test_a_refused_dynamodb_connection_is_one_line_naming_host_and_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tables", "--store", "dynamodb://127.0.0.1:1"]) == 3
    assert _one_line(capsys.readouterr().err) == "error: StoreUnavailable: cannot connect to DynamoDB at 127.0.0.1:1: connection refused"


def test_verify_against_an_unreachable_store_is_exit_3_not_a_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "--source", "memory", "--target", REFUSED_PG, "--table", "t"]) == 3
    assert "cannot connect to PostgreSQL at 127.0.0.1:1" in _one_line(capsys.readouterr().err)


def test_a_configuration_error_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tables", "--store", "foo://x"]) == exit_codes.USAGE == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("error: ConfigurationError: unknown store scheme 'foo'")


def test_a_usage_error_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tables", "--no-such-flag"]) == 2
    assert "No such option" in capsys.readouterr().err


def test_debug_keeps_the_traceback_and_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--debug", "tables", "--store", REFUSED_PG]) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "psycopg" in err
    assert err.rstrip().splitlines()[-1] == "error: StoreUnavailable: cannot connect to PostgreSQL at 127.0.0.1:1: connection refused"


def test_bench_prints_no_leading_blank_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", "--store", "memory", "--records", "20", "--ops", "20", "--concurrency", "1", "--out", str(tmp_path)]
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("report: ")


def _every_help() -> list[list[str]]:
    _register_all()
    names = [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]
    return [["--help"], *([n, "--help"] for n in names)]


@pytest.mark.parametrize("argv", _every_help(), ids=lambda a: " ".join(a))
def test_help_shows_flags_as_flags(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "--help" in out and "<bool>" not in out, out
    if argv == ["--help"]:
        assert re.search(r"^\s+--debug\s+Show tracebacks", out, re.M), out


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (StoreUnavailable("x"), 3),
        (OutcomeUnknown("x"), 3),
        (ConfigurationError("x"), 2),
        (TableNotFound("table t does not exist"), 2),
        (FileNotFoundError(2, "No such file or directory", "/nope/spec.json"), 2),
        (RuntimeError("a bug"), 3),
    ],
)
def test_every_failure_has_one_documented_code(error: BaseException, code: int) -> None:
    assert exit_codes.exit_code(error) == code
    line = exit_codes.error_line(error)
    assert line.startswith("error: ") and "\n" not in line


def test_multi_line_messages_become_one_line() -> None:
    assert exit_codes.error_line(StoreUnavailable("first\n\thint\n(link)")) == (
        "error: StoreUnavailable: first (--debug shows the details)"
    )
    assert exit_codes.error_line(RuntimeError("boom")) == "error: RuntimeError: boom (--debug shows the details)"
    assert exit_codes.error_line(FileNotFoundError(2, "No such file or directory", "/x")) == (
        "error: FileNotFoundError: No such file or directory: /x"
    )


def test_evaluate_verdict_codes_are_the_cli_table() -> None:
    assert EXIT_CODES == {"SAFE": exit_codes.OK, "NOT SAFE": exit_codes.NEGATIVE, "UNKNOWN": exit_codes.UNAVAILABLE}


def test_the_readme_documents_the_exit_codes() -> None:
    text = README.read_text(encoding="utf-8")
    for code, words in ((0, "ok"), (1, "NOT SAFE"), (2, "usage"), (3, "unreachable")):
        assert re.search(rf"^\| {code} \|.*{words}", text, re.M | re.I), f"exit code {code} is not in the README"


def test_contract_maps_pytest_codes_onto_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contract", "--store", "memory", "--", "-k", "no_test_has_this_name", "-q"]) == exit_codes.USAGE
    assert main(["contract", "--store", "nosuchstore", "--", "-q"]) == exit_codes.USAGE
