"""Sizes in the messages of a model download's room check (``disk_room.size_text``): a
disk with under 0.5 MB free read "has 0 MB free", and a download with a few kilobytes
left to fetch "its files need 0 MB more". A size that is not zero never reads as zero;
the units stay decimal, as the download's bar and the "500 MB kept free" count."""

from __future__ import annotations

import re

import pytest
from caption_fixtures import isolated_config  # noqa: F401 - a fixture, used by name
from test_download_room_s11 import _fake_hub

from crisisdesk.cli import main

# Decimal, as the model sizes, the download's megabytes and MARGIN_BYTES are counted.
UNITS = {"byte": 1, "bytes": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9}
SIZE = re.compile(r"([\d,.]+) (bytes?|KB|MB|GB)")


def _bytes(text: str) -> float:
    """A size as written, read back into bytes."""
    number, unit = SIZE.fullmatch(text).groups()
    return float(number.replace(",", "")) * UNITS[unit]


@pytest.mark.parametrize("n_bytes", [1, 999, 1_000, 1_499, 300_000, 499_999, 500_000,
                                     999_999, 10**6, 605 * 10**6, 10**9 - 1, 10**9,
                                     14_200_000_000])
def test_a_size_that_is_not_zero_never_reads_as_zero_and_reads_back_as_itself(
        n_bytes: int) -> None:
    from crisisdesk.core.models.disk_room import size_text

    text = size_text(n_bytes)
    assert re.search(r"[1-9]", text), text
    number, unit = SIZE.fullmatch(text).groups()
    # Within the rounding of the unit's last digit shown (a whole MB, a tenth of a GB).
    digits = number.split(".")[1] if "." in number else ""
    assert abs(_bytes(text) - n_bytes) <= 0.5 * UNITS[unit] / 10 ** len(digits), text


def test_the_margin_kept_free_reads_as_the_readme_says() -> None:
    from crisisdesk.core.models.disk_room import MARGIN_BYTES, size_text

    assert size_text(MARGIN_BYTES) == "500 MB"  # README: "with 500 MB to spare"


@pytest.mark.usefixtures("isolated_config")
def test_a_nearly_full_disk_is_not_said_to_have_0_mb_free(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    free = 300_000  # bytes: a disk filled to its last 0.3 MB
    started = _fake_hub(monkeypatch, free=free)
    assert main(["models", "download", "llava-1.5-7b"]) == 2
    err = capsys.readouterr().err
    assert started == []  # the precondition: refused for the room
    said = re.search(r"has (.+?) free", err)
    assert said, err
    assert re.search(r"[1-9]", said.group(1)) and _bytes(said.group(1)) == pytest.approx(
        free, rel=0.01), err
