"""The default file names of ``crisisdesk explain``'s PNGs (in the project's exports/).

Item ids came into the name with every character but ASCII letters, digits, ``_ . -``
folded to ``_``: ``café`` and ``cafè`` (or two ids of another script) shared one PNG, and
the second explanation silently replaced the first in a report folder. The same held for
ids that differ only in case on Windows and macOS, whose file systems ignore case, and
for two classes of one item explained with ``--class``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_explain import DAMAGE, add_damage_head, posts_with_a_picture, tiny  # noqa: F401

from crisisdesk.cli import main
from crisisdesk.core.explain.item import forget_loaded
from crisisdesk.core.project import Project

#: Post ids that the old name folded together: accents, another script, case.
IDS = ("café", "cafè", "Δ1", "Ж1", "Photo", "photo")


@pytest.fixture
def named_project(tmp_path: Path, tiny: dict, monkeypatch) -> Iterator[Project]:  # noqa: F811
    """Text-only posts with the ids of :data:`IDS` and a damage head over tiny-clip."""
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    forget_loaded()
    posts = posts_with_a_picture(tmp_path / "src", [
        (post, f"bridge {n} collapsed after the flood", "") for n, post in enumerate(IDS)])
    assert main(["import", str(tmp_path / "p"), str(posts)]) == 0
    assert main(["models", "add", "tiny-clip", str(tiny["folder"])]) == 0
    assert main(["embed", str(tmp_path / "p"), "--encoder", "tiny-clip"]) == 0
    project = Project.open(tmp_path / "p")
    add_damage_head(project)
    yield project
    forget_loaded()


def _explain(project: Project, item: str, capsys, *extra: str) -> Path:
    assert main(["explain", str(project.root), item, "--task", "damage", "--device", "cpu",
                 *extra]) == 0
    return Path(capsys.readouterr().out.strip().splitlines()[-1].removeprefix("wrote "))


def _same_file_on_windows_or_mac(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def test_each_item_gets_its_own_png_with_its_id_readable(named_project: Project,
                                                         capsys) -> None:
    written = {post: _explain(named_project, f"{post}_0", capsys) for post in IDS}
    names = [_same_file_on_windows_or_mac(path.name) for path in written.values()]
    assert len(set(names)) == len(IDS), names  # no PNG replaced another's
    for post, path in written.items():
        assert path.parent == named_project.root / "exports" and path.is_file()
        assert post in unicodedata.normalize("NFC", path.name), path.name  # still readable
        assert path.name.startswith("explain-") and "-damage" in path.name
        assert path.suffix == ".png"
    assert len(list((named_project.root / "exports").glob("explain-*.png"))) == len(IDS)


def test_two_classes_of_one_item_get_two_pngs(named_project: Project, capsys) -> None:
    first = _explain(named_project, "café_0", capsys, "--class", DAMAGE[0])
    second = _explain(named_project, "café_0", capsys, "--class", DAMAGE[1])
    assert first != second and first.is_file() and second.is_file()
    assert DAMAGE[0] in first.name and DAMAGE[1] in second.name
