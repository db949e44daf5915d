"""The desktop app (PySide6). Depends on crisisdesk.core; core never imports this package."""
