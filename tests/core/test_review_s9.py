"""Review of session 9's changes, driven as analysts do: a project whose own scheme was
added before labels were compared with composed accents and runs of blanks as one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crisisdesk.cli import main
from crisisdesk.core.project import Project
from crisisdesk.core.schemes import LabelScheme
from crisisdesk.core.store import LabelChange


def _before(raw: str) -> str:
    """A label as crisisdesk normalised it before session 9 (how an older project's own
    scheme stored its classes and merges)."""
    return raw.strip().lower().replace(" ", "_").replace("-", "_")


#: The scheme file an analyst added then: a class typed with two spaces, one pasted with
#: a no-break space, a merge typed with two spaces.
RISK = {"task": "risk", "description": "v1",
        "classes": ["Low", "High  risk", "Flood\u00a0zone"],
        "merges": {"very  bad": "High  risk"}}


def _stored_before(project: Project) -> LabelScheme:
    """RISK added to ``project`` as crisisdesk stored it before session 9."""
    scheme = LabelScheme("risk", tuple(_before(c) for c in RISK["classes"]),
                         {_before(k): _before(v) for k, v in RISK["merges"].items()}, "v1")
    with project.open_store() as store:
        store.add_scheme(scheme)
    return scheme


@pytest.mark.parametrize("written", ["High  risk", "very  bad"])
def test_a_scheme_stored_before_still_reads_labels_written_as_its_file(
        proj: Project, written: str) -> None:
    # Before: its class was stored as "high__risk"; labels are now compared with runs of
    # blanks as one ("high_risk"), so the label as the scheme file itself wrote it, which
    # imported before, was refused as "not a class of task risk (low, high__risk)".
    _stored_before(proj)
    with proj.open_store() as store:
        assert store.schemes()["risk"].normalise(written) == "high__risk"


def test_adding_the_same_file_again_to_a_scheme_stored_before_keeps_its_classes(
        proj: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Before: the file's classes are now normalised to "high_risk" and "flood_zone", not
    # the stored "high__risk" and "flood\xa0zone": the same file added again (to change a
    # merge or the description, which the README allows) was refused with "task 'risk'
    # has labels already: its scheme cannot change".
    stored = _stored_before(proj)
    with proj.open_store() as store:
        store.ensure_source("feed", "csv", str(tmp_path))
        item = store.add_text_item(store.insert_post("feed", "1", text="roof gone"),
                                   "feed", "1")
        store.add_labels([LabelChange(item, "risk", "high__risk")], annotator="ana")
    path = tmp_path / "risk.json"
    path.write_text(json.dumps(RISK), encoding="utf-8")
    assert main(["schemes", "add", str(proj.root), str(path)]) == 0, capsys.readouterr()
    assert "high__risk" in capsys.readouterr().out  # its classes as stored
    with proj.open_store() as store:
        assert store.schemes()["risk"].classes == stored.classes
    path.write_text(json.dumps({**RISK, "description": "v2",
                                "merges": {**RISK["merges"], "Flood area": "Flood zone"}}),
                    encoding="utf-8")
    assert main(["schemes", "add", str(proj.root), str(path)]) == 0, capsys.readouterr()
    with proj.open_store() as store:
        scheme = store.schemes()["risk"]
        assert scheme.classes == stored.classes  # the journal's labels stay classes
        assert scheme.description == "v2"
        assert scheme.normalise("flood area") == "flood\u00a0zone"
        assert scheme.normalise("Very bad") == "high__risk"
        assert store.current_label(item, "risk").label == "high__risk"
