"""Post ids a spreadsheet rewrote when a table went through Excel or LibreOffice and was
saved: an 18-19 digit tweet id read as a number is written in scientific notation
(``9.17791E+17``) or cut to 15 significant digits (``917791291823591000``), and a
leading zero is dropped (``007`` becomes ``7``). Imported as written, the row's labels
went to a new post, or to another post that had that id. Each check returns a line
for the import report, naming the column and what to do; the row reader says it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

#: Significant digits a spreadsheet keeps of a number (IEEE doubles as Excel shows them).
SHEET_DIGITS = 15
#: A number in scientific notation as spreadsheets write a big one (``9.17791E+17``: the
#: exponent's "+" always), with a decimal point or a European decimal comma. Without the
#: "+", a short hexadecimal id such as ``5e3`` would read as one.
_SCIENTIFIC = re.compile(r"([+-]?\d+(?:[.,]\d+)?)[eE](\+\d+)")
WHAT_TO_DO = ("import the plain CSV or the JSON Lines export instead, or open the CSV in "
              "Excel through Data > From Text/CSV with the id columns set to Text")


def _number(cell: str) -> Decimal | None:
    """The number a cell a spreadsheet wrote holds (decimal comma read), else None."""
    try:
        return Decimal(cell.replace(",", "."))
    except InvalidOperation:
        return None


def spreadsheet_form_of(cell: str, post_id: str) -> bool:
    """Whether ``cell`` is not ``post_id`` but what a spreadsheet writes for it once read
    as a number: in scientific notation, cut or rounded to 15 digits, or without its
    leading zeros."""
    if cell == post_id or not (post_id.isascii() and post_id.isdigit()):
        return False
    value, exact = _number(cell), Decimal(int(post_id))
    if value is None:
        return False
    if (found := _SCIENTIFIC.fullmatch(cell)) is not None:
        # As precise as the mantissa's digits: 9.17791E+17 is 917791291823591424 to 6.
        places = len(re.sub(r"\D", "", found.group(1))) - 1
        unit = Decimal(10) ** (int(found.group(2)) - places)
        return abs(value - exact) <= unit / 2
    if not cell.isdigit():
        return False
    if len(post_id) <= SHEET_DIGITS:  # only the leading zeros can have gone
        return value == exact
    unit = Decimal(10) ** (len(post_id.lstrip("0")) - SHEET_DIGITS)
    return cell.endswith("0" * len(str(unit)[1:])) and abs(value - exact) < unit


def id_from_image_id(post_id: str, image_id: str | None, what: str, advice: str
                     ) -> tuple[str, str] | None:
    """The tweet id a CrisisMMD image id (``<tweet id>_<n>``) gives back for a post id
    cell that is a spreadsheet's form of it, and a warning line for the report (``what``
    names the cell); None when the cell is not. The image id is text to a spreadsheet,
    so it kept the digits: tweets whose ids agree in six digits became one post."""
    prefix, sep, n = (image_id or "").rpartition("_")
    if not (sep and n.isascii() and n.isdigit()) or not spreadsheet_form_of(post_id, prefix):
        return None
    return prefix, (f"{what} {post_id!r} is how a spreadsheet writes {prefix} (digits "
                    f"lost); read as {prefix} from the image_id cell (to keep ids as they "
                    f"are, {advice})")


def _item_id_cell(row: Mapping[str, Any]) -> str | None:
    """The ``item_id`` cell of a row of crisisdesk's own export, ``<source>:<id>:<n>``:
    text to a spreadsheet, so it keeps the digits of an id its ``post_id`` cell lost."""
    for column, value in row.items():
        if isinstance(column, str) and column.strip().lower() == "item_id" and value:
            return str(value).strip()
    return None


def checked_post_id(post_id: str, column: str, row: Mapping[str, Any], export: bool,
                    advice: str = WHAT_TO_DO) -> tuple[str | None, str | None, str]:
    """The post id a row means, a line for the report, and that line's severity.

    In crisisdesk's own export (``export``) the ``item_id`` cell holds the id: a
    ``post_id`` cell that is a spreadsheet's form of it is read from there (a warning);
    one that is another id refuses the row (None, an error): its labels would go to
    another post. In another table an id in scientific notation refuses the row, and a
    long id whose digits past the 15th are zeros is imported with a warning (a real id
    may end so). ``advice``: what the line tells the analyst to do instead."""
    item_id = _item_id_cell(row) if export else None
    if item_id is not None and item_id.count(":") >= 2:
        meant = item_id.split(":", 1)[1].rsplit(":", 1)[0]
        if meant == post_id:
            return post_id, None, ""
        if spreadsheet_form_of(post_id, meant):
            return meant, (f"column {column}: post id {post_id!r} is how a spreadsheet "
                           f"writes {meant} (digits lost); read as {meant} from the "
                           f"item_id cell (to keep ids as they are, {advice})"), "warning"
        return None, (f"column {column}: post id {post_id!r} is not the post of the "
                      f"item_id cell {item_id!r}; row skipped (its labels would go to "
                      "another post)"), "error"
    if _SCIENTIFIC.fullmatch(post_id):
        return None, (f"column {column}: post id {post_id!r} is a number a spreadsheet "
                      "wrote in scientific notation: the id's digits are lost; row "
                      f"skipped ({advice})"), "error"
    digits = post_id.lstrip("0")
    if post_id.isdigit() and len(digits) > SHEET_DIGITS and \
            not digits[SHEET_DIGITS:].strip("0"):
        return post_id, (f"column {column}: post id {post_id} ends in zeros past its "
                         f"first 15 digits, as a spreadsheet writes an id it cut to 15 "
                         "digits; if this table went through Excel, this is not the post "
                         f"meant ({advice})"), "warning"
    return post_id, None, ""
