"""The jobs panel tells the truth about long and interrupted work.

* A phase whose first unit takes long (a 7B captioner on a CPU writes a batch of four
  captions in a minute or two) is working, not stalled: the row said "no progress for
  0:12" at each phase's start, before anything could have advanced. It says "working
  for M:SS" until a generous wait (longer where the job's pace so far was slower); a job
  that advanced and then stopped still says "no progress for M:SS" (the s15 test).
* A retrain's switch refused for one task (another window made another version active
  meanwhile) but done for the others says both in its row: the row said only the
  refusal, so the analyst never learnt that the other tasks now run a new version, and
  the window did not refresh their predictions.

Clocks are fakes (see the s14 test): the test moves them and fires the ticker itself.
"""

from __future__ import annotations

from test_jobs_panel import _panel
from test_jobs_truth_s14 import _Clock, clock  # noqa: F401 - clock: a fixture
from test_silent_job_s15 import _silent_job, _steady, _tick, gate  # noqa: F401 - gate: a fixture
from test_switch_mixed_s15 import _mixed_retrain

from crisisdesk.core.progress import Progress
from crisisdesk.gui import worker
from crisisdesk.gui.jobs_panel import format_seconds

# ------------------------------------------------------------- a slow first unit


def test_a_slow_first_batch_is_working_not_stalled(qtbot, clock, gate) -> None:
    # LLaVA 7B on a CPU: the job said how many captions it will write, then the first
    # batch of four takes its minute.
    panel, runner = _silent_job(qtbot, gate)
    row = panel.row_of(runner)
    clock.now += 20  # loading the model: nothing said yet
    runner._on_progress(Progress(0, 400, "llava-1.5-7b: 400 captions to write", "cpu"))
    for wait in (15, 60):
        clock.now += wait
        _tick(panel)
        shown = row.figures.text()
        assert "no progress" not in shown, shown
        assert f"working for {format_seconds(runner.elapsed)}" in shown, shown
    assert runner.rate is None and "ETA" not in row.figures.text()


def test_a_new_phase_is_working_until_its_first_advance(qtbot, clock, gate) -> None:
    # A switch's second task counts from 0 again; its first batch takes a while.
    panel, runner = _silent_job(qtbot, gate)
    row = panel.row_of(runner)
    _steady(runner, clock)  # 64 of 400, every 8 s
    runner._on_progress(Progress(0, 400, "second task", "cpu"))
    clock.now += 30
    _tick(panel)
    shown = row.figures.text()
    assert "no progress" not in shown and "working for" in shown, shown
    clock.now += 20
    runner._on_progress(Progress(16, 400, "second task", "cpu"))  # it advanced
    assert "working for" not in row.figures.text(), row.figures.text()


def test_a_first_unit_past_the_generous_wait_is_said_stalled(qtbot, clock, gate) -> None:
    panel, runner = _silent_job(qtbot, gate)
    row = panel.row_of(runner)
    runner._on_progress(Progress(0, 400, "captioning", "cpu"))
    clock.now += worker.FIRST_ADVANCE_S + 30
    _tick(panel)
    shown = row.figures.text()
    assert f"no progress for {format_seconds(worker.FIRST_ADVANCE_S + 30)}" in shown, shown
    assert "working for" not in shown, shown


def test_the_wait_for_a_first_advance_grows_with_a_slow_pace(qtbot, clock, gate) -> None:
    # Batches that took FIRST_ADVANCE_S each in the phase before: the next phase's first,
    # past the floor but well within that pace, is no stall yet.
    panel, runner = _silent_job(qtbot, gate)
    row = panel.row_of(runner)
    every = worker.FIRST_ADVANCE_S
    _steady(runner, clock, batches=3, every=every)
    runner._on_progress(Progress(0, 400, "second phase", "cpu"))
    clock.now += 2 * every
    _tick(panel)
    assert "working for" in row.figures.text(), row.figures.text()
    clock.now += 2 * every  # four of its usual intervals: past STALL_INTERVALS of them
    _tick(panel)
    assert "no progress for" in row.figures.text(), row.figures.text()


# ------------------------------------------------------------- a switch refused in part


def test_a_switch_refused_for_one_task_says_what_it_switched(qtbot, tmp_path) -> None:
    from crisisdesk.gui.dialogs.retrain_dialog import RetrainDialog

    project, report, _ = _mixed_retrain(tmp_path)
    report.tasks["informative"].recommend_switch = True  # both tasks to switch
    with project.open_store() as store:  # another window's switch of informative
        other = store.add_model_version("informative", "informative-elsewhere",
                                        "models/elsewhere.safetensors")
    panel = _panel(qtbot)
    dialog = RetrainDialog(project, report, jobs=panel)
    qtbot.addWidget(dialog)
    switched: list[list[str]] = []
    dialog.switched.connect(switched.append)
    runner = dialog.apply()
    assert runner is not None
    qtbot.waitUntil(lambda: runner.state not in ("pending", "running"), timeout=120_000)
    assert runner.state == "failed"  # still said refused: not all was done
    shown = panel.row_of(runner).message.text()
    damage = report.tasks["damage"]
    assert "informative not switched" in shown, shown
    assert f"damage switched to {damage.candidate_name}" in shown, shown
    assert "predictions written" in shown, shown
    # The window refreshes the task that did switch.
    qtbot.waitUntil(lambda: bool(switched), timeout=10_000)
    assert switched == [["damage"]]
    with project.open_store() as store:
        assert store.active_model_version("damage")["id"] == damage.candidate
        assert store.active_model_version("informative")["id"] == other
