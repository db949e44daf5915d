"""A project folder received from a colleague or restored from a partial backup, with some
of its store's rows damaged or crafted: opening it and predicting, listing versions or
tasks must say what is wrong and keep the rest of the project usable, never end in a
traceback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
from test_project_move import _project  # tests/core/ is on sys.path (pytest)

from crisisdesk.cli import main
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.project import Project


def _spoil(project: Project, sql: str, params: list | tuple = ()) -> None:
    """Change the project's database behind the store's back, as a crafted file would."""
    with sqlite3.connect(project.db_path) as conn:
        conn.execute(sql, params)
    conn.close()


def _first_text_key(project: Project) -> str:
    with project.open_store() as store:
        return store.conn.execute("SELECT key FROM embeddings WHERE kind = 'text'"
                                  " ORDER BY rowid LIMIT 1").fetchone()[0]


# -- the embeddings cache ---------------------------------------------------------------

def test_a_cut_short_embedding_is_a_cache_miss_that_embed_fills_again(tmp_path: Path
                                                                       ) -> None:
    project = _project(tmp_path, n=60)
    key = _first_text_key(project)
    # A partial copy: the row's vector holds 3 of its 8 values.
    _spoil(project, "UPDATE embeddings SET vector = substr(vector, 1, 6) WHERE key = ?",
           [key])
    job = PredictJob(project, ["damage"])
    list(job.run())
    entry = job.report.tasks["damage"]
    assert "error" not in entry
    assert entry["skipped"] >= 1 and entry["predicted"] >= 1
    with project.open_store() as store:
        assert key not in store.get_embeddings("text", "txt-enc", [key])
        # The embed job asks missing_keys what to compute: the damaged row is redone.
        assert store.missing_keys("text", "txt-enc", [key]) == [key]


def test_an_embedding_whose_shape_disagrees_with_its_bytes_is_not_read(tmp_path: Path
                                                                         ) -> None:
    project = _project(tmp_path, n=60, train=False)
    with project.open_store() as store:
        key = store.item_texts()[0].key
        store.put_embeddings("text", "txt-enc", [key], np.ones((1, 8)))
    # A crafted shape (10**10 values) over 8 values' bytes: never allocated, never read.
    _spoil(project, "UPDATE embeddings SET dtype = 'float16:100000x100000' WHERE key = ?",
           [key])
    with project.open_store() as store:
        assert store.get_embeddings("text", "txt-enc", [key]) == {}
        assert store.missing_keys("text", "txt-enc", [key]) == [key]


# -- the project's own label schemes ------------------------------------------------------

def _add_stored_scheme(project: Project, task: str, classes: str, merges: str = "{}"
                       ) -> None:
    _spoil(project, "INSERT INTO label_schemes (task, classes, merges, description, added_at)"
           " VALUES (?, ?, ?, '', '2024-01-01T00:00:00+00:00')", [task, classes, merges])


def test_an_unreadable_stored_scheme_leaves_the_other_tasks_usable(tmp_path: Path,
                                                                    capsys) -> None:
    project = _project(tmp_path, n=60)
    _add_stored_scheme(project, "urgency", "{not json")
    job = PredictJob(project, ["damage"])
    list(job.run())
    assert job.report.tasks["damage"]["predicted"] > 0
    assert main(["schemes", "list", str(project.root)]) == 0
    out, err = capsys.readouterr()
    assert "damage" in out and "urgency" not in out
    assert str(project.db_path) in err and "'urgency'" in err
    assert "crisisdesk schemes add" in err


def test_a_crafted_scheme_with_repeated_or_blank_classes_is_left_out(tmp_path: Path
                                                                     ) -> None:
    project = _project(tmp_path, n=60, train=False)
    _add_stored_scheme(project, "urgency", json.dumps(["high", "high", "low"]))
    _add_stored_scheme(project, "needs", json.dumps(["food", ""]))
    # A row may not redefine a built-in task either (add_scheme refuses to write one).
    _add_stored_scheme(project, "informative", json.dumps(["yes", "no", "maybe"]))
    with project.open_store() as store:
        schemes = store.schemes()
        problems = store.scheme_problems()
    assert "urgency" not in schemes and "needs" not in schemes
    assert schemes["informative"].classes != ("yes", "no", "maybe")
    assert len(problems) == 3
    assert any("'high'" in p for p in problems)


def test_a_left_out_scheme_can_be_added_again(tmp_path: Path, capsys) -> None:
    project = _project(tmp_path, n=60, train=False)
    _add_stored_scheme(project, "urgency", "{not json")
    fixed = tmp_path / "urgency.json"
    fixed.write_text(json.dumps({"task": "urgency", "classes": ["high", "low"]}),
                     encoding="utf-8")
    assert main(["schemes", "add", str(project.root), str(fixed)]) == 0
    with project.open_store() as store:
        assert store.schemes()["urgency"].classes == ("high", "low")
        assert store.scheme_problems() == []


# -- the model versions' records -------------------------------------------------------

def test_a_version_record_with_unreadable_config_does_not_stop_predict_or_versions(
        tmp_path: Path, capsys) -> None:
    project = _project(tmp_path, n=60)
    for config in ("{not json", "[1]"):
        _spoil(project, "UPDATE model_versions SET config = ?, metrics = ?",
               [config, config])
        job = PredictJob(project, ["damage"])
        list(job.run())  # the checkpoint's own sidecar says what the head reads
        assert "error" not in job.report.tasks["damage"]
        assert main(["versions", str(project.root), "--task", "damage"]) == 0
        assert "damage-" in capsys.readouterr().out
