"""What the jobs themselves report for the app's jobs panel to show: the last progress of
a job that ended says what it did in the job's words (the panel shows that message, and
the notes, when a job ends), and a job without an end says it has no total to reach."""

from __future__ import annotations

from pathlib import Path

from test_embed_job import FakeEncoder
from test_embed_job import _project as embed_project
from test_training_job import FAST
from test_training_job import _project as trained_project  # tests/core/ is on sys.path

from crisisdesk.core.embed import EmbedJob
from crisisdesk.core.fusion.predict import PredictJob
from crisisdesk.core.fusion.training import TrainJob
from crisisdesk.core.importers.watch import WatchJob, WatchOptions
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project


def test_an_embed_ends_saying_what_it_encoded_and_naming_the_image_it_could_not_read(
        tmp_path: Path) -> None:
    project = embed_project(tmp_path)
    with project.open_store() as store:
        path = store.conn.execute("SELECT path FROM media WHERE declared_path = '3.png'"
                                  ).fetchone()[0]
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n not a png any more")
    job = EmbedJob(project, FakeEncoder(), kinds=["image"])
    last = list(job.run())[-1]
    # "images 9/10" was the row's last word: as if one was still to come.
    encoded = job.report.images_encoded
    assert f"{encoded} images encoded" in last.message, last.message
    assert "1 unreadable" in last.message, last.message
    assert any(path in note for note in last.notes), last.notes


def test_predict_ends_saying_how_many_predictions_it_wrote_per_task(tmp_path: Path) -> None:
    project = trained_project(tmp_path, n=30)
    list(TrainJob(project, "damage", image_encoder="img-enc", text_encoder="txt-enc",
                  recipe=FAST).run())
    job = PredictJob(project, ["damage"])
    last = list(job.run())[-1]
    written = job.report.tasks["damage"]["predicted"]
    assert written and f"{written} predictions written" in last.message, last.message

    again = PredictJob(project, ["damage"])
    last = list(again.run())[-1]
    # The row of a Predict with nothing left to do ended on "planning predictions".
    assert "planning" not in last.message
    assert "nothing to predict" in last.message, last.message


def _watched(project: Project, folder: Path) -> list[Progress]:
    folder.mkdir()
    (folder / "posts.csv").write_text("id,text\n1,first post\n2,second post\n", "utf-8")
    run = WatchJob(project, folder, watch=WatchOptions(interval=0.01, settle=0.0)).run()
    try:
        return [next(run), next(run)]
    finally:
        run.close()


def test_a_watch_never_says_it_reached_its_total(project: Project, tmp_path: Path) -> None:
    # A watch goes on until cancelled: done == total read as 100 % (a full bar, ETA 0:00)
    # while it was still watching.
    seen = _watched(project, tmp_path / "watched")
    assert seen[-1].done == 2
    assert all(p.total == 0 for p in seen), seen
