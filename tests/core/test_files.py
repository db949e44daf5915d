"""atomic_write: all or nothing, and the permissions a user expects of the file."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from crisisdesk.core.files import atomic_write

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_a_new_file_gets_the_usual_permissions_not_mkstemps(tmp_path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    out = tmp_path / "labels.csv"
    with atomic_write(out) as handle:
        handle.write("a,b\n")
    assert _mode(out) == 0o666 & ~umask


@posix_only
def test_a_replaced_file_keeps_its_permissions(tmp_path) -> None:
    out = tmp_path / "labels.csv"
    out.write_text("old\n", encoding="utf-8")
    out.chmod(0o640)
    with atomic_write(out) as handle:
        handle.write("new\n")
    assert out.read_text(encoding="utf-8") == "new\n"
    assert _mode(out) == 0o640


@posix_only
def test_an_explicit_mode_wins(tmp_path) -> None:
    out = tmp_path / "run.desktop"
    out.write_text("old\n", encoding="utf-8")
    out.chmod(0o600)
    with atomic_write(out, mode=0o755) as handle:
        handle.write("new\n")
    assert _mode(out) == 0o755


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path) -> None:
    out = tmp_path / "labels.csv"
    out.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_write(out) as handle:
        handle.write("half")
        raise RuntimeError("disk full")
    assert out.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.csv"]


@posix_only
def test_a_link_to_a_pipe_is_refused_as_no_plain_file(tmp_path) -> None:
    """/dev/stdout with stdout on a pipe: resolved first, the link named "pipe:[N]", a
    path that does not exist, and the write failed on a temp file in /proc instead."""
    read_end, write_end = os.pipe()
    try:
        link = tmp_path / "out.csv"
        link.symlink_to(f"/proc/self/fd/{write_end}")
        with pytest.raises(OSError, match="is not a plain file"):
            with atomic_write(link) as handle:
                handle.write("x")
    finally:
        os.close(read_end)
        os.close(write_end)


@posix_only
def test_a_link_into_a_folder_that_is_not_there_is_refused(tmp_path) -> None:
    link = tmp_path / "labels.csv"
    link.symlink_to(tmp_path / "unplugged" / "share" / "labels.csv")
    with pytest.raises(OSError, match="whose folder does not exist"):
        with atomic_write(link) as handle:
            handle.write("x")
    assert not (tmp_path / "unplugged").exists()  # no folders made where it pointed
