"""evaluate runs the contract suite against the very target: by URL for a built-in adapter, never via os.environ."""

from __future__ import annotations

import os

import pytest

from storeswap.evaluate.contract import run_contract_suite
from storeswap.evaluate.suite_target import ContractStore, contract_store_for


def test_a_postgres_target_is_reached_by_its_url_option(monkeypatch: pytest.MonkeyPatch) -> None:
    from storeswap.backends.postgres import provision
    from storeswap.connect import open_store

    url = provision()
    monkeypatch.delenv("STORESWAP_POSTGRES_URL", raising=False)  # the URL must travel as an option, not the env
    store = open_store(url)
    try:
        target = contract_store_for(store, url)
    finally:
        store.close()
    assert target == ContractStore(builtin="postgres", url=url)

    def storeswap_env() -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k.startswith("STORESWAP_")}

    before = storeswap_env()
    seen: list[str | None] = []
    run = run_contract_suite(
        [target],
        quick=True,
        extra_args=["-k", "test_values"],
        progress=lambda d, t: seen.append(os.environ.get("STORESWAP_POSTGRES_URL")),
    )
    assert storeswap_env() == before and set(seen) == {None}  # never set, not even during the run
    assert run.error is None and run.stores == ["postgres"]
    assert any(a.startswith("postgres=postgresql://") for a in run.args)
    assert run.results and all(r.outcome in ("passed", "xfailed") for r in run.results)


def test_store_name_equals_url_selects_and_an_empty_url_is_a_usage_error() -> None:
    run = run_contract_suite(
        [ContractStore(builtin="memory", url="memory://")], quick=True, extra_args=["-k", "test_numbers"]
    )
    assert run.error is None and run.stores == ["memory"] and "memory=memory://" in run.args
    with pytest.raises(ValueError, match="a url goes with a built-in store name"):
        ContractStore(factory="x:y", url="memory://")


def test_the_suite_gets_its_settings_as_options_not_through_os_environ(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STORESWAP_DIFF_EXAMPLES", raising=False)
    seen: dict[str, str] = {}

    class Spy(dict):  # os.environ stand-in that records every write
        def __setitem__(self, key: str, value: str) -> None:
            seen[key] = value
            super().__setitem__(key, value)

        def update(self, *args: object, **kwargs: str) -> None:
            for key, value in dict(*args, **kwargs).items():
                self[key] = value

        def setdefault(self, key: str, value: str = "") -> str:
            if key not in self:
                self[key] = value
            return super().__getitem__(key)

    monkeypatch.setattr(os, "environ", Spy(os.environ))
    run = run_contract_suite(
        [ContractStore(builtin="memory", url="memory://")], extra_args=["-k", "test_differential_against_memory"],
        diff_examples=3,
    )
    assert run.error is None, run
    assert [t.outcome for t in run.results] == ["passed"]
    assert not any(k.startswith(("STORESWAP_", "HYPOTHESIS")) for k in seen), seen
    assert not (tmp_path / ".hypothesis").exists()
