from pathlib import Path
def test_help_menu_shows_log_folder(qtbot, demo_like_project, monkeypatch):
    from crisisdesk.core import app_log
    from crisisdesk.gui import log_folder
    from crisisdesk.gui.main_window import MainWindow
    path = app_log.start_log()
    try:
        opened = []
        monkeypatch.setattr(log_folder.QDesktopServices, "openUrl",
                            lambda url: opened.append(url.toLocalFile()) or True)
        window = MainWindow(demo_like_project, annotator="t")
        qtbot.addWidget(window)
        help_menu = [m for m in window.menuBar().actions() if m.text() == "&Help"][0].menu()
        texts = [a.text() for a in help_menu.actions()]
        assert "Show &log folder…" in texts
        [a for a in help_menu.actions() if a.text() == "Show &log folder…"][0].trigger()
        qtbot.waitUntil(lambda: bool(opened))  # once the folder answered (session 19)
        assert [Path(p) for p in opened] == [path.parent]
    finally:
        app_log.stop_log()
