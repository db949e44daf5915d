"""Bugs found by following the README word by word (session 11).

"Zip of any of the above": an archive made on macOS (Finder's Compress) or by Info-ZIP's
``zip`` on Linux stores its entries' names as UTF-8 without the zip flag that says so;
unpacked under the old code page's reading, ``Café.jpg`` became ``Caf├⌐.jpg`` and the
table naming ``Café.jpg`` found no image.
"""

from __future__ import annotations

import zipfile

from bad_input_helpers import make_image, run_import
from test_hunt_archives import patch_headers


def test_a_zip_whose_utf8_names_are_not_flagged_unpacks_them_as_written(proj, tmp_path):
    archive = tmp_path / "huracan.zip"
    mac_name, windows_name = "img/Café.jpg".encode(), b"img/Ni\xa4o.jpg"  # cp437 ñ
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("posts.csv", "id,text,image\n1,Techo caído,img/Café.jpg\n"
                                 "2,Niño rescatado,img/Niño.jpg\n")
        # ASCII stand-ins of the same byte length, renamed in the headers below as
        # those tools write them: raw bytes, UTF-8 flag (0x800) not set.
        zf.write(make_image(tmp_path / "a.jpg", 1), "img/Cafxx.jpg")
        zf.write(make_image(tmp_path / "b.jpg", 2), "img/Nixo.jpg")
    patch_headers(archive, "img/Cafxx.jpg", new_name=mac_name)
    patch_headers(archive, "img/Nixo.jpg", new_name=windows_name)

    job = run_import(proj, [archive])

    assert not [p for p in job.report.problems if p.severity == "error"], \
        job.report.problems
    unpacked = sorted(p.name for p in (proj.folder("media") / "huracan" / "img").iterdir())
    assert unpacked == ["Café.jpg", "Niño.jpg"]
    with proj.open_store() as store:
        statuses = [r[0] for r in store.conn.execute("SELECT status FROM media ORDER BY id")]
    assert statuses == ["ok", "ok"]


def test_the_import_summary_writes_media_counts_with_thousands_separators() -> None:
    from crisisdesk.core.importers.records import ImportReport

    report = ImportReport(posts_added=10_820, items_added=12_179,
                          media_added={"missing": 12_179, "ok": 1_204})
    assert "media added: 12,179 missing, 1,204 ok" in report.summary()
