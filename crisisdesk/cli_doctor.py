"""Installation and support commands: ``doctor`` and ``install-desktop``."""

from __future__ import annotations

import argparse

from crisisdesk.cli import OK, PROBLEMS, _fail


def cmd_doctor(args: argparse.Namespace) -> int:
    from crisisdesk.core.doctor import exit_code, report_json, report_text, run_checks
    from crisisdesk.gui.qt_check import QT_CHECK

    checks = run_checks(extra=[QT_CHECK])
    print(report_json(checks) if args.json else report_text(checks))
    return OK if exit_code(checks) == 0 else PROBLEMS


def cmd_install_desktop(args: argparse.Namespace) -> int:
    from crisisdesk.core.desktop_install import install, uninstall

    try:
        paths = uninstall() if args.uninstall else install()
    except OSError as exc:
        return _fail(f"desktop integration: {exc}")
    verb = "removed" if args.uninstall else "wrote"
    for path in paths:
        print(f"{verb} {path}")
    if args.uninstall and not paths:
        print("nothing to remove: the desktop integration was not installed")
    return OK


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the installation and support commands to the main parser."""
    p = sub.add_parser("doctor", help="check this installation: Python, torch, GPU, 4-bit, "
                                      "Qt, models, folders; each with its fix")
    p.add_argument("--json", action="store_true", help="the report as JSON, for bug reports")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("install-desktop", help="add crisisdesk to this user's application "
                                               "menu (no root needed)")
    p.add_argument("--uninstall", action="store_true", help="remove it again")
    p.set_defaults(func=cmd_install_desktop)
