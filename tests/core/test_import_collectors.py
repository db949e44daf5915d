"""Collector formats end to end: twarc2 (X API v2 pages), Mastodon statuses, Bluesky
result pages. Fixtures are built here: retweets, quotes, replies, deleted and withheld
posts, posts without media, malformed lines; media stay remote (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from import_helpers import errors, media_rows, post_row, run_import

from crisisdesk.cli import main
from crisisdesk.core.importers import detect_format
from crisisdesk.core.importers.mastodon import html_to_text

IMG = "https://pbs.example.org/media"


def tweet(tid: str, text: str, author: str = "u1", media: list[str] | None = None,
          refs: list[tuple[str, str]] | None = None, **extra) -> dict:
    out = {"id": tid, "text": text, "author_id": author, "lang": "en",
           "created_at": "2024-09-27T10:00:00.000Z", "edit_history_tweet_ids": [tid], **extra}
    if media:
        out["attachments"] = {"media_keys": media}
    if refs:
        out["referenced_tweets"] = [{"type": t, "id": i} for t, i in refs]
    return out


def twarc_page(data: list[dict], tweets: list[dict] | None = None,
               errors_: list[dict] | None = None) -> dict:
    page = {"data": data, "includes": {
        "users": [{"id": "u1", "username": "relief_ops"}, {"id": "u2", "username": "witness"}],
        "media": [{"media_key": "3_1", "type": "photo", "url": f"{IMG}/flood.jpg",
                   "alt_text": "Brown water up to the doors of parked cars"},
                  {"media_key": "3_2", "type": "photo", "url": f"{IMG}/bridge.jpg"},
                  {"media_key": "7_3", "type": "video",
                   "preview_image_url": f"{IMG}/video_still.jpg"}],
        "tweets": tweets or []},
        "meta": {"result_count": len(data)}, "__twarc": {"version": "2.14.0"}}
    if errors_:
        page["errors"] = errors_
    return page


def build_twarc(path: Path) -> Path:
    """Two pages, a malformed line and a line that is JSON but no page."""
    page1 = twarc_page(
        [tweet("1", "Water rising on Main St", media=["3_1"], possibly_sensitive=False),
         tweet("2", "RT @witness: Bridge out on Route 9 …", refs=[("retweeted", "10")]),
         tweet("3", "This is what we feared", refs=[("quoted", "11")]),
         tweet("4", "Shelter open at the school", withheld={"copyright": False,
                                                            "country_codes": ["DE", "FR"]}),
         tweet("5", "@someone stay safe", refs=[("replied_to", "99")])],
        tweets=[tweet("10", "Bridge out on Route 9, avoid the area", author="u2",
                      media=["3_2"], possibly_sensitive=True),
                tweet("11", "Levee breach reported north of town", author="u2")],
        errors_=[{"resource_id": "77", "resource_type": "tweet", "title": "Not Found Error",
                  "detail": "Could not find tweet with id: [77]."}])
    page2 = twarc_page([tweet("6", "Drone footage of the flood", media=["7_3"])])
    lines = [json.dumps(page1), '{"data": [{"id": "8", "text": "cut', json.dumps({"hello": 1}),
             json.dumps(page2)]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def status(sid: str, html: str, media: list[dict] | None = None, **extra) -> dict:
    return {"id": sid, "created_at": "2024-09-27T11:00:00.000Z", "content": html,
            "language": "en", "url": f"https://mastodon.example/@ops/{sid}",
            "account": {"id": "a1", "acct": "ops@mastodon.example", "username": "ops"},
            "media_attachments": media or [], "spoiler_text": "", "sensitive": False,
            "reblog": None, **extra}


MASTODON = [
    status("100", '<p>Roads closed near <a href="https://x.org/a"><span class="invisible">'
                  'https://</span><span class="">x.org/a</span></a></p><p>Stay home &amp; '
                  'safe<br>Updates soon</p>',
           media=[{"id": "m1", "type": "image", "url": f"{IMG}/m1.jpg",
                   "description": "Flooded underpass, a bus stuck in it"},
                  {"id": "m2", "type": "video", "url": f"{IMG}/m2.mp4",
                   "preview_url": f"{IMG}/m2_small.jpg"},
                  {"id": "m3", "type": "audio", "url": f"{IMG}/m3.mp3"}]),
    status("101", "", reblog=status("90", "<p>Evacuation order for zone B</p>",
                                    media=[{"id": "m4", "type": "image",
                                            "url": f"{IMG}/m4.jpg"}], sensitive=True)),
    status("102", "<p>Reply without media</p>", in_reply_to_id="100"),
    status("103", "<p>Odd attachment</p>",
           media=[{"id": "m5", "type": "image", "url": "file:///etc/passwd"}]),
]


def build_mastodon_array(path: Path) -> Path:
    path.write_text(json.dumps(MASTODON, indent=2), "utf-8")
    return path


def build_mastodon_jsonl(path: Path) -> Path:
    lines = [json.dumps(MASTODON[0]), "{not json", json.dumps({"event": "delete",
                                                                "payload": "555"}),
             json.dumps({"event": "update", "payload": json.dumps(MASTODON[2])})]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def post_view(rkey: str, text: str, embed: dict | None = None, reply: str | None = None,
              handle: str = "ops.bsky.social", labels: list[dict] | None = None,
              self_labels: list[str] | None = None) -> dict:
    """A post view; ``labels``: a moderation service's, ``self_labels``: the poster's."""
    record = {"$type": "app.bsky.feed.post", "text": text, "langs": ["en"],
              "createdAt": "2024-09-27T12:00:00.000Z"}
    if self_labels:
        record["labels"] = {"$type": "com.atproto.label.defs#selfLabels",
                            "values": [{"val": v} for v in self_labels]}
    if reply:
        record["reply"] = {"parent": {"uri": reply}, "root": {"uri": reply}}
    view = {"uri": f"at://did:plc:ops/app.bsky.feed.post/{rkey}", "cid": "bafy" + rkey,
            "author": {"did": "did:plc:ops", "handle": handle}, "record": record,
            "indexedAt": "2024-09-27T12:00:01.000Z"}
    if embed:
        view["embed"] = embed
    if labels is not None:
        view["labels"] = labels
    return view


def label(val: str, **extra) -> dict:
    """A moderation service's label on a post."""
    return {"src": "did:plc:moderation", "uri": "at://x", "val": val,
            "cts": "2024-09-27T12:05:00.000Z", **extra}


def images(*names: str, alts: tuple[str, ...] = ()) -> dict:
    return {"$type": "app.bsky.embed.images#view", "images": [
        {"thumb": f"{IMG}/{n}_thumb.jpg", "fullsize": f"{IMG}/{n}.jpg",
         "alt": alts[i] if i < len(alts) else ""} for i, n in enumerate(names)]}


def build_bluesky_search(path: Path) -> Path:
    quoted = "at://did:plc:other/app.bsky.feed.post/q1"
    page = {"hitsTotal": 4, "cursor": "4", "posts": [
        post_view("p1", "Two photos of the damage",
                  images("b1", "b2", alts=("Collapsed roof of a house", "")),
                  labels=[label("graphic-media")]),
        post_view("p2", "Look at this", {
            "$type": "app.bsky.embed.recordWithMedia#view", "media": images("b3"),
            "record": {"record": {"$type": "app.bsky.embed.record#viewRecord",
                                  "uri": quoted}}}, self_labels=["nudity"]),
        post_view("p3", "Text only", labels=[label("gore", neg=True)]),
        post_view("p4", "Replying", reply="at://did:plc:ops/app.bsky.feed.post/p3"),
        post_view("p5", "Quote of a deleted post", {
            "$type": "app.bsky.embed.record#view",
            "record": {"$type": "app.bsky.embed.record#viewNotFound",
                       "uri": "at://did:plc:gone/app.bsky.feed.post/x", "notFound": True}}),
    ]}
    path.write_text(json.dumps(page, indent=2), "utf-8")
    return path


def build_bluesky_feed(path: Path) -> Path:
    page = {"cursor": "c", "feed": [
        {"post": post_view("f1", "Agency update", images("f1"))},
        {"post": post_view("f2", "Reposted warning", handle="other.bsky.social",
                           labels=[label("graphic-media")]),
         "reason": {"$type": "app.bsky.feed.defs#reasonRepost",
                    "uri": "at://did:plc:ops/app.bsky.feed.repost/r1",
                    "by": {"handle": "ops.bsky.social"},
                    "indexedAt": "2024-09-27T13:00:00.000Z"}},
        {"post": {"$type": "app.bsky.feed.defs#notFoundPost",
                  "uri": "at://did:plc:ops/app.bsky.feed.post/gone", "notFound": True}},
    ]}
    path.write_text(json.dumps(page) + "\n" + "[1, 2\n", "utf-8")
    return path


def problems(job) -> list[str]:
    return [str(p) for p in job.report.problems]


# --------------------------------------------------------------------------- detection


def test_auto_format_recognises_each_collector_by_content_not_name(tmp_path):
    # Names that say nothing (or mislead): content decides.
    assert detect_format(build_twarc(tmp_path / "output.json")) == "twarc"
    assert detect_format(build_mastodon_array(tmp_path / "timeline.jsonl")) == "mastodon"
    assert detect_format(build_mastodon_jsonl(tmp_path / "stream.dat")) == "mastodon"
    assert detect_format(build_bluesky_search(tmp_path / "search.txt")) == "bluesky"
    assert detect_format(build_bluesky_feed(tmp_path / "feed.json")) == "bluesky"
    plain = tmp_path / "plain.jsonl"
    plain.write_text(json.dumps({"id": 1, "text": "a post"}) + "\n", "utf-8")
    assert detect_format(plain) == "jsonl"


# --------------------------------------------------------------------------- twarc


def test_twarc_pages_keep_links_to_originals_and_report_what_is_missing(proj, tmp_path):
    src = build_twarc(tmp_path / "irma.jsonl")
    job = run_import(proj, [src])
    report = job.report
    # 1-6 from data, 10 and 11 (retweeted, quoted) from includes.tweets.
    assert report.posts_added == 8
    assert report.media_added == {"remote": 4}
    lines = problems(job)
    assert f"error: {src} row 2: malformed JSON: Unterminated string starting at " \
           "(column 31); line skipped" in lines
    assert any(f"{src} row 3: not an X API v2 response page" in p for p in lines)
    assert any("tweet 77 not available (deleted or never existed" in p for p in lines)
    assert any("warning:" in p and "tweet 4 is withheld in DE, FR" in p for p in lines)
    assert len(errors(job)) == 2  # the two bad lines; the rest went on
    with proj.open_store() as store:
        retweet = post_row(store, "irma", "2")
        assert (retweet["relation"], retweet["original_post_id"]) == ("repost", "10")
        assert retweet["text"] == "RT @witness: Bridge out on Route 9, avoid the area"
        quote = post_row(store, "irma", "3")
        assert (quote["relation"], quote["original_post_id"]) == ("quote", "11")
        reply = post_row(store, "irma", "5")
        assert (reply["relation"], reply["original_post_id"]) == ("reply", "99")
        original = post_row(store, "irma", "10")
        assert (original["relation"], original["author"]) == (None, "witness")
        first = post_row(store, "irma", "1")
        assert (first["platform"], first["author"], first["url"]) == (
            "x", "relief_ops", "https://x.com/relief_ops/status/1")
        # The retweet shows the original's photo; both are remote, URL kept.
        for post_id, url in (("1", "flood.jpg"), ("2", "bridge.jpg"), ("10", "bridge.jpg"),
                             ("6", "video_still.jpg")):
            (media,) = media_rows(store, "irma", post_id)
            assert (media["status"], media["url"], media["path"]) == (
                "remote", f"{IMG}/{url}", None)
        assert media_rows(store, "irma", "4") == []  # no media: a text-only item
        assert store.counts()["text_only_items"] == 4


def test_reimporting_a_collector_file_adds_nothing(proj, tmp_path):
    src = build_twarc(tmp_path / "irma.jsonl")
    run_import(proj, [src])
    again = run_import(proj, [src])
    assert (again.report.posts_added, again.report.items_added) == (0, 0)
    assert again.report.media_added == {}


# --------------------------------------------------------------------------- mastodon


def test_html_content_becomes_plain_text():
    assert html_to_text(MASTODON[0]["content"]) == (
        "Roads closed near https://x.org/a\n\nStay home & safe\nUpdates soon")


def test_mastodon_array_with_media_reblog_reply_and_refused_url(proj, tmp_path):
    src = build_mastodon_array(tmp_path / "tag_flood.json")
    job = run_import(proj, [src])
    assert job.report.posts_added == 5  # 100-103 and the reblogged 90
    # Image, video still and the reblogged image are remote; the file: URL is refused.
    assert job.report.media_added == {"remote": 4, "unreadable": 1}
    with proj.open_store() as store:
        first = post_row(store, "tag_flood", "100")
        assert first["text"].startswith("Roads closed near https://x.org/a")
        assert (first["platform"], first["author"]) == ("mastodon", "ops@mastodon.example")
        assert [m["url"] for m in media_rows(store, "tag_flood", "100")] == [
            f"{IMG}/m1.jpg", f"{IMG}/m2_small.jpg"]  # audio skipped
        reblog = post_row(store, "tag_flood", "101")
        assert (reblog["relation"], reblog["original_post_id"]) == ("repost", "90")
        assert reblog["text"] == "Evacuation order for zone B"
        assert post_row(store, "tag_flood", "90")["relation"] is None
        assert [m["url"] for m in media_rows(store, "tag_flood", "101")] == [f"{IMG}/m4.jpg"]
        reply = post_row(store, "tag_flood", "102")
        assert (reply["relation"], reply["original_post_id"]) == ("reply", "100")
        (odd,) = media_rows(store, "tag_flood", "103")
        assert odd["status"] == "unreadable"
        assert "only http and https media URLs" in odd["reason"]
    assert any("image file:///etc/passwd: unreadable" in p for p in problems(job))


def test_a_malformed_media_url_fails_that_media_not_the_file(proj, tmp_path):
    statuses = [status("1", "<p>bad link</p>", media=[{"id": "m", "type": "image",
                                                       "url": "http://[::1/x.jpg"}]),
                status("2", "<p>fine</p>", media=[{"id": "n", "type": "image",
                                                   "url": f"{IMG}/ok.jpg"}])]
    src = tmp_path / "odd.json"
    src.write_text(json.dumps(statuses), "utf-8")
    job = run_import(proj, [src])
    assert job.report.posts_added == 2
    assert job.report.media_added == {"remote": 1, "unreadable": 1}
    with proj.open_store() as store:
        (bad,) = media_rows(store, "odd", "1")
        assert bad["status"] == "unreadable" and "not a valid URL" in bad["reason"]


def test_mastodon_jsonl_malformed_line_and_delete_event_are_reported(proj, tmp_path):
    src = build_mastodon_jsonl(tmp_path / "stream.jsonl")
    job = run_import(proj, [src])
    assert job.report.posts_added == 2  # 100, and 102 from the update event
    lines = problems(job)
    assert any(p.startswith(f"error: {src} row 2: malformed JSON") for p in lines)
    assert any(p.startswith(f"warning: {src} row 3: status 555 was deleted") for p in lines)


def test_mastodon_quotes_link_by_shallow_quote_and_report_quoted_posts_gone(proj, tmp_path):
    # Mastodon 4.4 nests one level of quote: the quoted status's own quote is a
    # ShallowQuote (quoted_status_id only). A quote whose post was deleted has no status.
    middle = status("2", "<p>middle</p>", quote={"state": "accepted", "quoted_status_id": "3"})
    statuses = [status("1", "<p>top</p>", quote={"state": "accepted", "quoted_status": middle}),
                status("4", "<p>quotes a deleted post</p>",
                       quote={"state": "deleted", "quoted_status": None})]
    src = tmp_path / "quotes.json"
    src.write_text(json.dumps(statuses), "utf-8")
    job = run_import(proj, [src])
    with proj.open_store() as store:
        top = post_row(store, "quotes", "1")
        assert (top["relation"], top["original_post_id"]) == ("quote", "2")
        nested = post_row(store, "quotes", "2")
        assert (nested["relation"], nested["original_post_id"]) == ("quote", "3")
        assert post_row(store, "quotes", "4")["relation"] is None
    assert any(p.startswith(f"warning: {src} row 2: status 4 quotes a post that is not "
                            "available (deleted)") for p in problems(job)), problems(job)


# --------------------------------------------------------------------------- bluesky


def test_bluesky_search_page_images_quotes_replies(proj, tmp_path):
    src = build_bluesky_search(tmp_path / "search.json")
    job = run_import(proj, [src])
    assert job.report.posts_added == 5
    assert job.report.media_added == {"remote": 3}
    uri = "at://did:plc:ops/app.bsky.feed.post/"
    with proj.open_store() as store:
        p1 = post_row(store, "search", uri + "p1")
        assert (p1["text"], p1["author"], p1["language"], p1["url"]) == (
            "Two photos of the damage", "ops.bsky.social", "en",
            "https://bsky.app/profile/ops.bsky.social/post/p1")
        assert [m["url"] for m in media_rows(store, "search", uri + "p1")] == [
            f"{IMG}/b1.jpg", f"{IMG}/b2.jpg"]  # fullsize, not thumbs
        p2 = post_row(store, "search", uri + "p2")
        assert (p2["relation"], p2["original_post_id"]) == (
            "quote", "at://did:plc:other/app.bsky.feed.post/q1")
        assert [m["url"] for m in media_rows(store, "search", uri + "p2")] == [
            f"{IMG}/b3.jpg"]
        assert media_rows(store, "search", uri + "p3") == []
        p4 = post_row(store, "search", uri + "p4")
        assert (p4["relation"], p4["original_post_id"]) == ("reply", uri + "p3")
    assert any("quoted post at://did:plc:gone/app.bsky.feed.post/x not available" in p
               for p in problems(job))


def test_bluesky_author_feed_repost_and_not_found_post(proj, tmp_path):
    src = build_bluesky_feed(tmp_path / "feed.jsonl")
    job = run_import(proj, [src])
    assert job.report.posts_added == 3  # f1, f2 and the repost of f2
    lines = problems(job)
    assert any("post at://did:plc:ops/app.bsky.feed.post/gone not available" in p
               for p in lines)
    assert any(p.startswith(f"error: {src} row 2: malformed JSON") for p in lines)
    with proj.open_store() as store:
        repost = post_row(store, "feed", "at://did:plc:ops/app.bsky.feed.repost/r1")
        assert (repost["relation"], repost["original_post_id"], repost["author"]) == (
            "repost", "at://did:plc:ops/app.bsky.feed.post/f2", "ops.bsky.social")


# --------------------------------------------------------------------------- CLI


def test_cli_import_records_media_as_remote_without_fetch_media(tmp_path, capsys):
    page = twarc_page([tweet("1", "Water rising", media=["3_1"])])
    src = tmp_path / "clean.jsonl"
    src.write_text(json.dumps(page) + "\n", "utf-8")
    project = tmp_path / "proj"
    assert main(["import", str(project), str(src)]) == 0
    assert "media added: 1 remote" in capsys.readouterr().out
    assert main(["info", str(project), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["media"] == {"remote": 1}


@pytest.mark.parametrize("fmt", ["twarc", "mastodon", "bluesky"])
def test_explicit_format_names_are_accepted(proj, tmp_path, fmt):
    builders = {"twarc": build_twarc, "mastodon": build_mastodon_array,
                "bluesky": build_bluesky_search}
    src = builders[fmt](tmp_path / f"{fmt}.data")
    job = run_import(proj, [src], format=fmt)
    assert job.report.posts_added > 0
    assert job.report.sources[0]["format"] == fmt


def test_twarc_flattened_tweets_carry_author_media_and_original(proj, tmp_path):
    original = {**tweet("20", "Full original text", author="u2", media=["3_9"]),
                "type": "retweeted", "author": {"id": "u2", "username": "witness"},
                "attachments": {"media_keys": ["3_9"], "media": [
                    {"media_key": "3_9", "type": "photo", "url": f"{IMG}/orig.jpg"}]}}
    flat = {**tweet("21", "RT @witness: Full orig…", refs=[("retweeted", "20")]),
            "author": {"id": "u1", "username": "relief_ops"}, "__twarc": {},
            "referenced_tweets": [original]}
    src = tmp_path / "flat.jsonl"
    src.write_text(json.dumps(flat) + "\n", "utf-8")
    assert detect_format(src) == "twarc"
    job = run_import(proj, [src])
    assert errors(job) == []
    assert job.report.posts_added == 2
    with proj.open_store() as store:
        rt = post_row(store, "flat", "21")
        assert (rt["author"], rt["relation"], rt["original_post_id"], rt["text"]) == (
            "relief_ops", "repost", "20", "RT @witness: Full original text")
        assert [m["url"] for m in media_rows(store, "flat", "21")] == [f"{IMG}/orig.jpg"]


def test_jsonl_statuses_with_raw_unicode_line_separators_import_whole(proj, tmp_path):
    # JSON writers that keep non-ASCII (ensure_ascii=False) leave U+2028 / U+2029 raw in
    # strings; they are no line ends in JSON Lines.
    first = status("200", "<p>Evacuate now\u2028Zone A</p>")
    second = status("201", "<p>Shelter\u2029open</p>")
    src = tmp_path / "stream.jsonl"
    src.write_text(json.dumps(first, ensure_ascii=False) + "\n"
                   + json.dumps(second, ensure_ascii=False) + "\n", "utf-8")
    job = run_import(proj, [src])
    assert errors(job) == []
    assert job.report.posts_added == 2
    with proj.open_store() as store:
        assert "\u2028" in post_row(store, "stream", "200")["text"]
