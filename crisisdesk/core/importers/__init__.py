"""Importers: turn folders, tables, CrisisMMD files, archives and collector output
(twarc2, Mastodon, Bluesky; a watched folder) into posts and items.

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
from crisisdesk.core.importers.watch import WatchJob, WatchOptions

__all__ = ["FORMATS", "ImportJob", "ImportOptions", "ImportReport", "Problem",
           "SourceError", "WatchJob", "WatchOptions", "detect_format"]
