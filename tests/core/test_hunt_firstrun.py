"""First run and machine checks found by a bug hunt: the doctor must finish its report
when a probe cannot even be started, and remembering the last project must not stop a
project from opening when the settings folder cannot be written."""

from __future__ import annotations

import sys
from pathlib import Path

from crisisdesk.core import doctor, settings


def test_a_probe_that_cannot_start_is_reported_not_raised(monkeypatch, tmp_path: Path
                                                           ) -> None:
    # The interpreter the probes run in is gone or may not be run (a venv moved or
    # half-removed): the doctor's report must still come out, naming why.
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    probe = doctor.Probe("print('{}')")
    assert probe.result() is None
    assert "no-such-python" in probe.error or "No such file" in probe.error
    check = doctor.check_torch(probe.result(), probe.error)
    assert check.status == doctor.PROBLEM and check.summary


def test_remember_project_when_settings_cannot_be_written_does_not_raise(
        monkeypatch, tmp_path: Path, caplog) -> None:
    # XDG_CONFIG_HOME (or CRISISDESK_CONFIG_DIR) points below a file: the settings
    # folder cannot be made. Opening a project must go on; the failure is logged.
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(blocker / "crisisdesk"))
    assert settings.remember_project(tmp_path / "proj") is False
    assert str(blocker) in caplog.text
    assert settings.last_project() is None


def test_demo_sources_left_by_an_older_crisisdesk_are_copied_again(
        monkeypatch, tmp_path: Path) -> None:
    # The analyst reset the demo (deleted its project.sqlite) after an upgrade that
    # changed resources/demo: the rebuild must import the new files, not the old copy.
    from crisisdesk.core import demo
    from crisisdesk.core.project import Project

    package = tmp_path / "package-demo"
    package.mkdir()
    (package / "posts.csv").write_text("id,text\n1,new sample\n", "utf-8")
    monkeypatch.setattr(demo, "resource", lambda *parts: package)
    project = Project.open(tmp_path / "data" / "demo", create=True)
    old = project.folder("media") / "demo"
    old.mkdir(parents=True)
    (old / "posts.csv").write_text("id,text\n1,old\n", "utf-8")
    (old / "gone.csv").write_text("dropped by the upgrade\n", "utf-8")

    copied = demo.DemoJob(tmp_path / "data")._copy_sources(project)
    assert (copied / "posts.csv").read_text("utf-8") == "id,text\n1,new sample\n"
    assert not (copied / "gone.csv").exists()


def test_a_user_without_a_login_name_can_still_run_commands(monkeypatch) -> None:
    """A container's uid with no passwd entry and no USER / LOGNAME: getpass raised
    KeyError while the parser was built, and every command stopped with a traceback."""
    import getpass

    from crisisdesk.cli import build_parser

    def no_name() -> str:
        raise KeyError("getpwuid(): uid not found: 54321")

    monkeypatch.setattr(getpass, "getuser", no_name)
    args = build_parser().parse_args(["label", "p", "1_0", "--task", "damage",
                                      "--label", "mild_damage"])
    assert args.annotator == "analyst"
