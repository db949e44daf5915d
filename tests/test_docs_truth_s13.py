"""The docs name what the code has (session 13).

An engineer finds a module through docs/architecture.md's list, an analyst an option
through the README or docs/*.md, and the app's keys through the README's table: each
test below reads the code's own list and checks that the docs name every entry, so a
module split off, an option added or a key given goes stale in the docs loudly.
"""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

from crisisdesk.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "crisisdesk"


def _docs() -> str:
    """The README and every page of docs/, as one text."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(page.read_text("utf-8") for page in pages)


def test_the_architecture_page_names_every_module() -> None:
    # Modules split off this month (store/upgrades.py, gui/bidi.py, cli_progress.py, ...)
    # were missing from the list that says where each thing lives.
    page = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    missing = [
        str(path.relative_to(ROOT))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name not in ("__init__.py", "__main__.py")
        and not re.search(rf"(?<![\w.]){re.escape(path.name)}", page)
    ]
    assert not missing, f"docs/architecture.md does not name: {missing}"


def _long_options(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command, option) for every long option of the parser and its subcommands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _long_options(sub, (*path, name))
        for option in action.option_strings:
            if option.startswith("--") and option != "--help":
                yield " ".join(("crisisdesk", *path)), option


def test_every_command_line_option_is_documented() -> None:
    # `models download --force`, `train --tokens`, `--dropout`, `--class-weighted` and
    # `crisisdesk --version` were in no doc: found only by reading --help.
    docs = _docs()
    missing = [f"{command} {option}" for command, option in _long_options(build_parser())
               if not re.search(rf"{re.escape(option)}(?![\w-])", docs)]
    assert not missing, f"no doc names: {missing}"


def _key_atoms(cell: str) -> set[str]:
    """The single keys of a key cell: "J / ↓, K / ↑" -> {"J", "↓", "K", "↑"}."""
    cell = cell.replace("(", " ").replace(")", " ")
    parts = re.split(r"\s+/\s+|,\s+|\s+or\s+|^or\s+|\s{2,}", f" {cell.strip()} ")
    return {part.strip() for part in parts if part.strip() and part.strip() != "or"}


def test_the_readme_key_table_lists_every_key_of_the_help_card() -> None:
    # The README says "F1 or ? shows this list in the app"; the card (gui/keys.py's
    # SHORTCUTS) had O (the overlay), Ctrl+Y and Ctrl+I / Ctrl+E / Ctrl+, besides.
    # Read without importing Qt: the tuple is a literal.
    tree = ast.parse((PACKAGE / "gui" / "keys.py").read_text("utf-8"))
    shortcuts = next(ast.literal_eval(node.value) for node in ast.walk(tree)
                     if isinstance(node, ast.AnnAssign)
                     and getattr(node.target, "id", "") == "SHORTCUTS")
    readme = (ROOT / "README.md").read_text("utf-8")
    table = readme.split("| keys | what they do |", 1)[1].split("\n\n", 1)[0]
    listed: set[str] = set()
    for row in table.splitlines():
        cells = row.split("|")
        if len(cells) > 2 and "---" not in cells[1]:
            listed |= _key_atoms(cells[1].replace("`", ""))
    missing = {keys for keys, _ in shortcuts if not _key_atoms(keys) <= listed}
    assert not missing, f"README's key table lacks: {sorted(missing)}; it has {listed}"
