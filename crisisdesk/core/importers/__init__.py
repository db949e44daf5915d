"""Importers: turn folders, tables, CrisisMMD files and archives into posts and items.

Use :class:`ImportJob`; a new source kind adds a parser yielding
:class:`~crisisdesk.core.importers.records.PostRecord` objects.
"""

from crisisdesk.core.importers.job import (
    FORMATS,
    ImportJob,
    ImportOptions,
    SourceError,
    detect_format,
)
from crisisdesk.core.importers.records import ImportReport, Problem

__all__ = ["FORMATS", "ImportJob", "ImportOptions", "ImportReport", "Problem",
           "SourceError", "detect_format"]
