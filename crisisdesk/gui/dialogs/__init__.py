"""The app's dialogs: import, export, settings and the retrain report."""
