"""Secrets never surface: the one redaction function, and every CLI output and file checked for planted secrets.

The first tests pin :func:`storeswap.redaction.redact` itself; the "seen"
cases of issue 12 follow (each printed or kept a secret before); the last
test plants secrets in store URLs and in the environment, runs the CLI
commands (tables, describe, migrate, verify, bench, evaluate on memory stores behind a
registered scheme) and greps everything they printed, logged and wrote.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from storeswap.adapters.memory import MemoryStore
from storeswap.cli import main
from storeswap.connect import register_scheme
from storeswap.core.schema import KeyAttribute, TableSpec
from storeswap.redaction import SECRET_PARAMETERS, RedactingFilter, redact, redact_url

PW = "s3cretpw"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://u:pw-1@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db"),
        ("postgresql://127.0.0.1:5432/db", "postgresql://127.0.0.1:5432/db"),
        ("dynamodb://AKIA:sec/ret@h:8000", "dynamodb://AKIA:***@h:8000"),
        ("memory://", "memory://"),
        ("host=h port=5 password=pw user=u", "host=h port=5 password=*** user=u"),
        ("host=h password='p w' user=u", "host=h password=*** user=u"),
        ("at postgresql://h/db?password=x1: refused", "at postgresql://h/db?password=***: refused"),
        ("postgresql://h/db?sslmode=require&PassWord=x&x=1", "postgresql://h/db?sslmode=require&PassWord=***&x=1"),
        ("no secrets here: token bucket, password policy", "no secrets here: token bucket, password policy"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("param", sorted(SECRET_PARAMETERS))
def test_every_secret_query_parameter_is_hidden(param: str) -> None:
    out = redact_url(f"postgresql://h/db?a=1&{param}={PW}&b=2")
    assert PW not in out and f"{param}=***" in out and "a=1" in out and "b=2" in out


@pytest.mark.parametrize("var", ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PGPASSWORD", "MY_SERVICE_TOKEN"])
def test_credentials_from_the_environment_are_hidden(monkeypatch: pytest.MonkeyPatch, var: str) -> None:
    monkeypatch.setenv(var, "env-secret-value-42")
    assert redact("botocore said: bad key env-secret-value-42 (signature)") == "botocore said: bad key *** (signature)"


def test_the_logging_filter_redacts_formatted_messages() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "backend %s", (f"postgresql://u:{PW}@h/db",), None)
    RedactingFilter().filter(record)
    assert PW not in record.getMessage()


# -------------------------------------------------------- the seen cases of issue 12


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://127.0.0.1:1/db?password={PW}",
        f"postgresql://u:{PW}@127.0.0.1:1/db",
        f"postgresql://127.0.0.1:1/db?sslpassword={PW}&connect_timeout=2",
    ],
)
def test_tables_on_an_unreachable_postgres_url_does_not_print_its_password(url: str, capsys) -> None:
    rc = main(["tables", "--store", url])
    out = capsys.readouterr()
    assert rc != 0 and "error" in out.err
    assert PW not in out.out + out.err


def test_a_dynamodb_secret_in_the_query_is_hidden_in_labels() -> None:
    # The label of a store in reports (results.json, migrate state) is redact_url of its URL.
    label = redact_url(f"dynamodb://127.0.0.1:8000?aws_secret_access_key={PW}&aws_session_token={PW}2&region=x")
    assert PW not in label and "region=x" in label


def test_postgres_store_repr_and_errors_hide_the_password() -> None:
    from storeswap.adapters.postgres import PostgresStore
    from storeswap.core.errors import StoreUnavailable

    with pytest.raises(StoreUnavailable) as info:
        PostgresStore(f"postgresql://u:{PW}@127.0.0.1:1/db?sslpassword={PW}&connect_timeout=2", connect_timeout=2)
    assert PW not in str(info.value)


# ---------------------------------------------------- planted secrets, every CLI output


PLANTED = {
    "AWS_SECRET_ACCESS_KEY": "planted-aws-secret-0001",
    "AWS_SESSION_TOKEN": "planted-aws-session-0002",
    "PGPASSWORD": "planted-pgpassword-0003",
}
URL_SECRETS = ("planted-userinfo-0004", "planted-query-0005", "planted-token-0006")


@pytest.fixture
def planted_stores(monkeypatch: pytest.MonkeyPatch):
    """A ``plantedmem://`` scheme: one shared memory store per host, URLs full of secrets, secrets in the env."""
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)
    stores: dict[str, MemoryStore] = {}

    def factory(url: str) -> MemoryStore:
        return stores.setdefault(urlsplit(url).hostname or "", MemoryStore())

    register_scheme("plantedmem", factory)  # a test-only scheme; registering it again replaces the factory
    src = factory("plantedmem://src")
    src.create_table(TableSpec("plant_tbl", KeyAttribute("pk"), KeyAttribute("sk", "N")))
    src.bulk_put("plant_tbl", [{"pk": f"p{i % 7}", "sk": i, "v": "x" * (i % 13)} for i in range(300)])
    user, query, token = URL_SECRETS

    def url(host: str) -> str:
        return f"plantedmem://admin:{user}@{host}/db?password={query}&token={token}&region=x"

    return url


def test_cli_outputs_and_files_never_hold_a_planted_secret(
    planted_stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, caplog
) -> None:
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    src, dst = planted_stores("src"), planted_stores("dst")
    runs = [
        ["tables", "--store", src],
        ["describe", "--store", src, "--table", "plant_tbl"],
        ["describe", "--store", src, "--table", "no_such_table"],
        ["migrate", "--source", src, "--target", dst, "--table", "plant_tbl", "--state", str(tmp_path / "st.json"),
         "--verify"],
        ["verify", "--source", src, "--target", dst, "--table", "plant_tbl"],
        ["tables", "--store", "nosuchscheme://u:planted-userinfo-0004@h/?token=planted-token-0006"],
        ["bench", "--store", src, "--workload", "A", "--records", "50", "--ops", "60", "--concurrency", "1",
         "--out", str(tmp_path / "bench")],
    ]
    printed = []
    codes = []
    for argv in runs:
        codes.append(main(argv))
        out = capsys.readouterr()
        printed.append(f"$ {argv[0]}\n{out.out}\n{out.err}")
    assert codes[:2] == [0, 0] and codes[3] == 0 and codes[4] == 0, (codes, printed)
    assert codes[2] != 0 and codes[5] != 0
    assert codes[6] == 0, printed[6]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "results.json" for p in files) and any(p.name == "st.json" for p in files)
    texts = {"printed": "\n".join(printed), "log": caplog.text}
    texts.update({str(p): p.read_bytes().decode("utf-8", "replace") for p in files})
    secrets = [*PLANTED.values(), *URL_SECRETS]
    leaks = sorted({(where, s) for where, text in texts.items() for s in secrets if s in text})
    assert leaks == []
    # The redacted labels are still there: the reports say which store they measured.
    assert "plantedmem://admin:***@src" in texts["printed"] + "".join(texts.values())


def test_evaluate_outputs_and_report_files_never_hold_a_planted_secret(
    planted_stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, caplog
) -> None:
    # evaluate writes index.html, report.md and results.json with store labels: all of them are grepped.
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    src, dst = planted_stores("src"), planted_stores("dst")
    out_dir = tmp_path / "eval"
    rc = main(["evaluate", "--source", src, "--target", dst, "--table", "plant_tbl", "--quick", "--no-contract",
               "--no-bench", "--out", str(out_dir)])
    out = capsys.readouterr()
    assert rc == 0, out.out + out.err
    files = [p for p in out_dir.rglob("*") if p.is_file()]
    assert {"index.html", "report.md", "results.json"} <= {p.name for p in files}
    texts = {"printed": out.out + out.err, "log": caplog.text}
    texts.update({str(p): p.read_bytes().decode("utf-8", "replace") for p in files})
    secrets = [*PLANTED.values(), *URL_SECRETS]
    assert sorted({(where, s) for where, text in texts.items() for s in secrets if s in text}) == []
    assert any("plantedmem://admin:***@dst" in text for text in texts.values())
