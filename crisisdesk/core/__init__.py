"""The Qt-free core: store, importers, exporters, models and jobs.

Nothing under this package may import PySide6 or crisisdesk.gui; tests enforce it.
"""
