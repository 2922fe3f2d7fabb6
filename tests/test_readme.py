"""The README's generated parts stay true: the support matrix comes from the contract suite's markers."""

from __future__ import annotations

import re
from pathlib import Path

from storeswap.cli.stores import MATRIX_END, MATRIX_START, render_matrix

README = Path(__file__).resolve().parent.parent / "README.md"


def test_support_matrix_matches_the_markers() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split(MATRIX_START, 1)[1].split(MATRIX_END, 1)[0].strip()
    assert section == render_matrix().strip(), "README matrix is stale: run `storeswap matrix --write README.md`"


def test_quickstart_has_exactly_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    quick = re.search(r"^## Quickstart$(.*?)^## ", text, re.M | re.S)
    assert quick is not None
    blocks = re.findall(r"```[a-z]*\n(.*?)```", quick.group(1), re.S)
    commands = [line for b in blocks for line in b.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert commands == ["python3 dev.py evaluate", "python3 dev.py test"]


def test_every_cli_command_is_documented() -> None:
    from storeswap.cli import _register_all, app

    _register_all()
    text = README.read_text(encoding="utf-8")
    names = [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]
    missing = [n for n in names if f"storeswap {n}" not in text]
    assert not missing, f"README does not document: {missing}"
