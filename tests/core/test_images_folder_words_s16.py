"""CrisisMMD imported without an images folder says what to give in the app too.

The import dialog's user left its Images folder empty: each image was recorded missing
for "no --images-root given", and the import's warning said to "import again with
--images-root", a command-line option the dialog's user never saw. The reason and the
warning now name both the dialog's Images folder and the CLI's option.
"""

from __future__ import annotations

from import_helpers import build_crisismmd, crisismmd_files, run_import

from crisisdesk.core.project import Project


def test_images_left_missing_name_the_dialogs_images_folder_and_the_cli_option(
        proj: Project, tmp_path) -> None:
    job = run_import(proj, crisismmd_files(build_crisismmd(tmp_path / "cmmd")))
    with proj.open_store() as store:
        reasons = {r[0] for r in store.conn.execute(
            "SELECT reason FROM media WHERE status = 'missing'")}
    warnings = [p.message for p in job.report.problems if "marked missing" in p.message]
    assert reasons and warnings
    for said in (*reasons, *warnings):
        assert "Images folder" in said and "--images-root" in said, said
