"""Second review of session 11's core changes: what the review found, each pinned."""

from __future__ import annotations

from pathlib import Path

from crisisdesk.core.project import Project


def _two_sources(folder: Path) -> Project:
    """Tweet 7 from a CrisisMMD split file and again from a collector's sheet, plus
    tweet 8 from the file alone."""
    tsv = folder / "task_damage_text_img_dev.tsv"
    tsv.write_text("event_name\ttweet_id\timage_id\ttweet_text\timage\tlabel\n"
                   "flood\t7\t7_0\tRiver over the bank\tdata_image/7_0.jpg\tsevere_damage\n"
                   "flood\t8\t8_1\tBridge gone\tdata_image/8_1.jpg\tmild_damage\n",
                   encoding="utf-8")
    sheet = folder / "collected.csv"
    sheet.write_text("id,text\n7,River over the bank\n", encoding="utf-8")
    from crisisdesk.cli import main
    project = folder / "p"
    main(["import", str(project), str(tsv)])
    main(["import", str(project), str(sheet)])
    return Project.open(project)


def test_a_short_id_is_resolved_through_indexes_not_a_walk_of_every_item(
        tmp_path: Path) -> None:
    # Each `<post id>_<n>` look-up (every row of `embeddings import` keyed by CrisisMMD
    # image ids) joined items to posts by post_id alone, which no index leads with:
    # a walk of every item per row, 4,000 vectors into an 11,000-item project 52 s.
    project = _two_sources(tmp_path)
    with project.open_store() as store:
        statements: list[str] = []
        store.conn.set_trace_callback(statements.append)
        try:
            found = store.resolve_item("8_1")
        finally:
            store.conn.set_trace_callback(None)
        assert found.uid == "crisismmd:8:1"
        plans = [" / ".join(row[3] for row in store.conn.execute(
            f"EXPLAIN QUERY PLAN {sql}")) for sql in statements
            if sql.lstrip().upper().startswith("SELECT") and "items" in sql]
    assert plans
    for plan in plans:
        # Sources are few (a scan of them is cheap); posts and items are entered by index.
        assert "SCAN i " not in f"{plan} " and "SCAN p " not in f"{plan} " and \
            "SCAN items" not in plan and "SCAN posts" not in plan, plan



def test_an_image_path_with_half_a_surrogate_pair_is_said_and_the_import_goes_on(
        tmp_path: Path) -> None:
    # A stranger's JSON Lines escapes half an emoji in an image's file name: no file
    # system can name it, and the whole import ended in a traceback (os.path.realpath's
    # UnicodeEncodeError) with nothing imported.
    from import_helpers import media_rows, run_import, write_jsonl

    table = write_jsonl(tmp_path / "posts.jsonl", [
        {"id": "1", "text": "Flood at the market", "image": "img/market\ud83d.jpg"},
        {"id": "2", "text": "Road open again"}])
    project = Project.open(tmp_path / "p", create=True)
    job = run_import(project, [table])
    with project.open_store() as store:
        assert {r[0] for r in store.conn.execute("SELECT post_id FROM posts")} == {"1", "2"}
        (image,) = media_rows(store, "posts", "1")
    assert image["status"] != "ok" and image["declared_path"] == "img/market\ufffd.jpg"
    assert any("posts.jsonl row 1" in str(p) and "surrogate" in str(p)
               for p in job.report.problems), [str(p) for p in job.report.problems]


def test_an_image_id_after_a_row_numbered_in_file_order_keeps_both_images(
        tmp_path: Path) -> None:
    # Tweet 5's first row has no image id: its image became item 5:0 in file order. The
    # second row's image id 5_0 then named that item: b.jpg was never imported and its
    # label replaced a.jpg's, with no word in the report.
    from import_helpers import make_image, run_import, write_csv

    for name in ("a", "b"):
        make_image(tmp_path / "img" / f"{name}.jpg", seed=ord(name))
    table = write_csv(tmp_path / "sheet.csv",
                      ["tweet_id", "image_id", "tweet_text", "image", "damage"], [
                          ["5", "", "Bridge down", "img/a.jpg", "severe_damage"],
                          ["5", "5_0", "Bridge down", "img/b.jpg", "mild_damage"]])
    project = Project.open(tmp_path / "p", create=True)
    job = run_import(project, [table])
    with project.open_store() as store:
        labels = {declared: store.current_label(item, "damage").label
                  for item, declared in store.conn.execute(
                      "SELECT i.id, m.declared_path FROM items i JOIN media m"
                      " ON m.id = i.media")}
    assert labels == {"img/a.jpg": "severe_damage", "img/b.jpg": "mild_damage"}
    assert any("sheet.csv row 3" in str(p) and "5_0" in str(p)
               for p in job.report.problems), [str(p) for p in job.report.problems]
