"""What the app's log keeps of a caption server's JSON error answer cut short (session 19).

Before: an error answer is read up to ERROR_ANSWER_BYTES; a longer JSON one (a server
echoing the request, a post's text with it, in its error) was then not valid JSON, and
was logged as text: its first 48 characters, which may already be the echoed post.
"""

from __future__ import annotations

import json

from crisisdesk.core.captions.server import ERROR_ANSWER_BYTES, _answer_outline

POST = "Family of four trapped on the roof at 12 Elm Street, please send a boat"


def echoed_error(lead: str = "") -> bytes:
    """A JSON error echoing the request's post, longer than what is read of it, cut
    where the reading stops."""
    answer = {"error": {"message": POST + " " + "x" * (2 * ERROR_ANSWER_BYTES),
                        "type": "invalid_request_error"}}
    return (lead + json.dumps(answer)).encode()[:ERROR_ANSWER_BYTES]


def test_a_json_answer_cut_short_is_not_quoted() -> None:
    outline = _answer_outline(echoed_error())
    assert "Family" not in outline and "roof" not in outline, outline
    assert "JSON" in outline and f"{ERROR_ANSWER_BYTES}+" in outline, outline


def test_a_json_array_after_white_space_cut_short_is_not_quoted() -> None:
    cut = (" \r\n" + json.dumps([{"error": POST + "y" * 3000}])).encode()[:ERROR_ANSWER_BYTES]
    outline = _answer_outline(cut)
    assert "Family" not in outline, outline


def test_a_page_that_is_not_json_still_says_how_it_starts() -> None:
    page = b"<html><head><title>403 Forbidden</title></head>" + b"z" * 3000
    outline = _answer_outline(page[:ERROR_ANSWER_BYTES])
    assert "403 Forbidden" in outline and "JSON" not in outline, outline
