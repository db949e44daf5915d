"""Small untruths an analyst met in a day on 3,000 CrisisMMD posts (session 15).

- ``crisisdesk embed`` ended "done: 2,764/2,764 items" on a 3,194-item project: it counts
  the images (or texts) it encodes, one per distinct photo, not items; ``predict`` counts
  predictions (one per item and task), not items.
- ``crisisdesk history`` after a re-import of a CrisisMMD-format export (which carries a
  label's source but not when it was given) said "(given <the import's time>, imported)",
  as if the file's own time had been kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_explain import posts_with_a_picture, tiny  # noqa: F401 (fixture)

from crisisdesk import cli_progress
from crisisdesk.cli import main
from crisisdesk.core.explain.item import forget_loaded
from crisisdesk.core.project import Project
from crisisdesk.core.store import LabelChange

#: Three posts sharing one photo (a repost): three items, one image to encode.
TEXTS = ("Bridge collapsed after the flood", "Roads under water near the school",
         "Volunteers handing out water")


@pytest.fixture
def reposted(tmp_path: Path, tiny: dict, monkeypatch: pytest.MonkeyPatch  # noqa: F811
             ) -> Iterator[Path]:
    """A project of three posts with the same picture, tiny-clip registered; the CLI's
    log lines written from the first progress on (stderr is no terminal under capsys)."""
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setattr(cli_progress, "QUIET_FOR_S", -1.0)
    forget_loaded()
    posts = posts_with_a_picture(tmp_path / "src",
                                 [(str(n), text, "1.png") for n, text in enumerate(TEXTS)])
    assert main(["import", str(tmp_path / "p"), str(posts)]) == 0
    assert main(["models", "add", "tiny-clip", str(tiny["folder"])]) == 0
    yield tmp_path / "p"
    forget_loaded()


def _done_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("crisisdesk: done:")]
    assert lines, err
    return lines[-1]


def test_embed_says_it_counted_images_not_items(reposted: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["embed", str(reposted), "--encoder", "tiny-clip", "--kind", "image"]) == 0
    done = _done_line(capsys.readouterr().err)
    # One photo encoded for three items: "1/1 items" read as two thirds left out.
    assert "done: 1/1 images" in done, done
    assert "item" not in done, done


def test_embed_of_texts_says_texts(reposted: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["embed", str(reposted), "--encoder", "tiny-clip", "--kind", "text"]) == 0
    done = _done_line(capsys.readouterr().err)
    assert f"done: {len(TEXTS)}/{len(TEXTS)} texts" in done, done


def test_embed_of_both_kinds_counts_neither_as_items(reposted: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["embed", str(reposted), "--encoder", "tiny-clip"]) == 0
    done = _done_line(capsys.readouterr().err)
    # One image and three texts: four vectors stored, none of them "items".
    assert f"done: {1 + len(TEXTS)}/{1 + len(TEXTS)} embeddings" in done, done


def test_predict_counts_predictions(reposted: Path, capsys) -> None:
    assert main(["embed", str(reposted), "--encoder", "tiny-clip"]) == 0
    capsys.readouterr()
    assert main(["predict", str(reposted)]) == 0
    done = _done_line(capsys.readouterr().err)
    with Project.open(reposted).open_store() as store:
        made = store.conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    assert made > len(TEXTS)  # one per item and task: more than the items
    assert f"done: {made}/{made} predictions" in done, done


# ---------------------------------------------------------------- history

def _items(store, n: int) -> list[int]:
    return [r[0] for r in store.conn.execute("SELECT id FROM items ORDER BY id LIMIT ?",
                                             [n])]


def test_history_of_a_label_imported_without_its_time_does_not_call_it_given_then(
        reposted: Path) -> None:
    with Project.open(reposted).open_store() as store:
        one, two = _items(store, 2)
        # A CrisisMMD-format export says "human" but not when: the import's time is all
        # the journal has. An export of crisisdesk's own says when: that time is kept.
        store.add_labels([LabelChange(one, "damage", "severe_damage", source="human")],
                         annotator="crisismmd", source="import", skip_unchanged=False)
        store.add_labels([LabelChange(two, "damage", "mild_damage", annotator="omar",
                                      source="human", given_at="2024-04-01T09:00:00.000Z")],
                         annotator="crisismmd", source="import", skip_unchanged=False)
        (untimed,), (timed,) = store.label_history(one), store.label_history(two)
    assert untimed.carried_over
    assert "given" not in untimed.how(), untimed.how()
    assert "imported" in untimed.how()
    assert "given 2024-04-01 09:00:00 UTC" in timed.how(), timed.how()


def test_history_cli_after_a_crisismmd_reimport(reposted: Path, tmp_path: Path,
                                                capsys) -> None:
    """The analyst's own steps: a correction, a CrisisMMD export, its import elsewhere."""
    assert main(["label", str(reposted), "0_0", "--task", "informative",
                 "--label", "informative", "--annotator", "ana"]) == 0
    out = tmp_path / "mmd"
    assert main(["export", str(reposted), str(out), "--format", "crisismmd",
                 "--task", "informative"]) == 0
    assert main(["import", str(tmp_path / "q"), *map(str, out.iterdir())]) == 0
    capsys.readouterr()
    assert main(["history", str(tmp_path / "q")]) == 0
    human = [line for line in capsys.readouterr().out.splitlines() if " human, " in line]
    assert human and all("given" not in line for line in human), human
