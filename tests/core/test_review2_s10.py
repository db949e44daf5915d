"""Second review of the day's changes (session 10): what an analyst hits with them in a
real deployment, each test failing before its fix."""

from __future__ import annotations

import numpy as np
from bad_input_helpers import run_import
from import_helpers import make_image
from safetensors.numpy import save_file
from test_foreign_sources_s10 import found_by_its_tail, windows_sheet

from crisisdesk.core.models import registry


def test_windows_drive_path_found_by_its_tail_when_run_from_the_images_folder(
        proj, tmp_path, monkeypatch):
    # An analyst who cds into the sheet's folder before importing: the drive path
    # C:\...\img\1.jpg was resolved against the working folder (./C:/Users/...), taken as
    # a path inside the source and reported missing, never looked up by its last parts.
    make_image(tmp_path / "img" / "1.jpg")
    sheet = windows_sheet(tmp_path / "posts.csv")
    monkeypatch.chdir(tmp_path)
    found_by_its_tail(proj, sheet, tmp_path / "img" / "1.jpg", "last parts")


def test_mastodon_account_object_as_author_keeps_its_instance(proj, tmp_path):
    # --format jsonl --map author=account on Mastodon statuses: "username" was taken
    # before "acct", so john@mastodon.social and john@fosstodon.org became one author
    # "john" (the Mastodon importer reads acct first).
    source = tmp_path / "statuses.jsonl"
    source.write_text(
        '{"id": "1", "text": "Flood on Main St", "account": {"username": "john", '
        '"acct": "john@mastodon.social"}}\n'
        '{"id": "2", "text": "Bridge down", "account": {"username": "john", '
        '"acct": "john@fosstodon.org"}}\n', "utf-8")
    run_import(proj, [source], format="jsonl", mapping={"author": "account"})
    authors = [r[0] for r in proj.open_store().conn.execute(
        "SELECT author FROM posts ORDER BY post_id")]
    assert authors == ["john@mastodon.social", "john@fosstodon.org"]


def test_deberta_v3_text_model_with_its_spm_tokenizer_registers(tmp_path, monkeypatch):
    # DeBERTa-v2/v3 (and mDeBERTa) read their tokenizer from spm.model, RemBERT from
    # sentencepiece.model; a whole copy of such a folder (no tokenizer.json, as on the
    # hub) was refused as "incomplete: no tokenizer file".
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    folder = tmp_path / "crisis-deberta"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "deberta-v2"}')
    (folder / "spm.model").write_bytes(b"sentencepiece model")
    (folder / "tokenizer_config.json").write_text("{}")
    save_file({"w": np.zeros(2, dtype=np.float32)}, str(folder / "model.safetensors"))
    registry.register("crisis-deberta", folder, kind="text")
    assert "crisis-deberta" in registry.registered_paths()


def test_plain_http_warning_names_the_url_password_that_is_sent_not_the_env_key(
        monkeypatch):
    # With OPENAI_API_KEY set for other tools and a password in the server's URL, the URL's
    # password is what goes (the key is not sent), yet the warning said "the API key".
    from crisisdesk.core.captions.server import ServerCaptioner

    monkeypatch.setenv("OPENAI_API_KEY", "sk-elsewhere")
    warning = ServerCaptioner("http://ana:s3cret@10.0.0.5:8000/v1", "m").plain_text_secret()
    assert warning is not None
    assert warning.startswith("the URL's password goes to 10.0.0.5")


def test_crisismmd_image_on_another_computer_is_missing_and_attaches_later(tmp_path,
                                                                           capsys):
    # The error said to give --images-root the right folder, but the image was recorded
    # unreadable, which no later import re-attaches: the advice did nothing.
    from import_helpers import CMMD_SHORT, make_image

    from crisisdesk.cli import main
    from crisisdesk.core.project import Project

    tsv = tmp_path / "task_damage_text_img_dev.tsv"
    row = ["hurricane_irma", "100", "100_0", "Bridge out",
           "C:\\data\\CrisisMMD\\data_image\\hurricane_irma\\1.jpg", "severe_damage"]
    tsv.write_text("\t".join(CMMD_SHORT) + "\n" + "\t".join(row) + "\n", "utf-8")
    (tmp_path / "wrong").mkdir()
    project = str(tmp_path / "p")
    main(["import", project, str(tsv), "--images-root", str(tmp_path / "wrong")])
    with Project.open(tmp_path / "p").open_store() as store:
        (status,) = [r[0] for r in store.conn.execute("SELECT status FROM media")]
    assert status == "missing"
    make_image(tmp_path / "root" / "data_image" / "hurricane_irma" / "1.jpg", 7)
    capsys.readouterr()
    main(["import", project, str(tsv), "--images-root", str(tmp_path / "root")])
    assert "found as data_image/hurricane_irma/1.jpg" in capsys.readouterr().out
    with Project.open(tmp_path / "p").open_store() as store:
        (status,) = [r[0] for r in store.conn.execute("SELECT status FROM media")]
    assert status == "ok"
