"""The README's two set-up commands stay true, and CI runs the test command verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_readme_has_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    blocks = _bash_blocks(setup)
    assert len(blocks) == 2, blocks
    app, tests = blocks
    assert "pip install -e ." in app and app.endswith("crisisdesk")
    assert '".[test]"' in tests and "pytest" in tests


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    command = readme.split("<!-- test-command -->", 1)[1]
    command = _bash_blocks(command)[0]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text("utf-8").splitlines()]
    assert command in ci_lines
    assert "set -euo pipefail" in ci_lines
