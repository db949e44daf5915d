"""The settings dialog, and where the app's settings live.

Settings are a ``QSettings`` INI file in crisisdesk's per-user settings folder
(``CRISISDESK_CONFIG_DIR`` in tests), next to the model registrations the core keeps
there. Model folders are not stored here: "Add a model folder…" registers them with the
core registry, so the CLI and the app find the same models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QObject, QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crisisdesk.core.models import registry
from crisisdesk.core.settings import config_dir, login_name, one_line_name
from crisisdesk.gui import style
from crisisdesk.gui.empty_hint import EmptyHint
from crisisdesk.gui.screen_fit import fit_to_screen

SETTINGS_FILE = "gui.ini"
DEVICES = ("auto", "cpu", "cuda")  # as crisisdesk.core.encoders.factory.DEVICES
QUANTIZATIONS = ("auto", "none", "8bit", "4bit")

# Setting keys and their defaults; read them with :func:`setting`.
DEFAULTS: dict[str, Any] = {
    "device": "auto",
    "image_encoder": "clip-vit-b-32",
    "text_encoder": "minilm",
    "captioner": "",
    "quantization": "auto",  # auto: 4-bit for the 7B captioners on a GPU, none on a CPU
    "caption_server": "",  # an OpenAI-compatible server's URL: captions come from there
    "caption_server_model": "",  # the model name that server serves
    "offline": False,  # on: the app never offers a download (work from local models only)
    "annotator": "",
    "blur_sensitive": True,  # blur the images of posts marked sensitive until clicked
    "blur_all": False,  # blur every image until clicked
}
#: Settings with a fixed set of values (the dialog's drop-down lists).
CHOICES: dict[str, tuple[str, ...]] = {"device": DEVICES, "quantization": QUANTIZATIONS}


class SettingValueError(ValueError):
    """A stored setting that is none of its choices (a hand edit of the settings file)."""


def app_settings() -> QSettings:
    """The app's settings file (created on first write)."""
    return QSettings(str(config_dir() / SETTINGS_FILE), QSettings.Format.IniFormat)


def setting(key: str) -> Any:
    """A setting's value, with its default and type (booleans come back as bool)."""
    default = DEFAULTS[key]
    value = app_settings().value(key, default)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        # A word this reader does not know (a hand edit, a value Qt cannot read) keeps
        # the default: read as off, it turned off the blur of sensitive images unsaid.
        word = (_text(value) or "").strip().lower()
        return True if word in _TRUE else False if word in _FALSE else default
    text = _text(value)
    return text if text is not None else default


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _text(value: Any) -> str | None:
    """The text a stored value holds; None when it holds none (bytes that are not UTF-8,
    a ``@Rect(...)`` or other Qt type a hand edit or another program wrote)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return str(value)
    if isinstance(value, (QByteArray, bytes, bytearray)):
        # ``@ByteArray(abc)``: Qt hands it over as bytes, whose str() is "b'abc'" (a job
        # then asked for a captioner of that name).
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(value, list):
        # QSettings reads an unquoted comma in a hand-edited file ("Doe, Jane") as a
        # list: it is one value, as typed.
        parts = [_text(part) for part in value]
        return None if None in parts else ", ".join(p for p in parts if p is not None)
    return None


def unread_problem(key: str) -> str | None:
    """What is wrong with a stored value :func:`setting` cannot read (and so replaces by
    its default), naming the file, the key and the default; None when it reads it."""
    value = app_settings().value(key)
    if value is None or isinstance(value, bool):  # absent, or a switch Qt read itself
        return None
    default, text = DEFAULTS[key], _text(value)
    if text is None:
        why = "holds no text"
    elif isinstance(default, bool) and text.strip().lower() not in _TRUE + _FALSE:
        why = f"= {text!r} is not one of {', '.join(_TRUE + _FALSE)}"
    else:
        return None
    used = (("on" if default else "off") if isinstance(default, bool)
            else repr(default) if default else "(empty)")
    return (f"{app_settings().fileName()}: {key} {why}: the default {used} is used; "
            "choose a value in Settings")


def choice_problem(key: str) -> str | None:
    """What is wrong with a stored setting of ``CHOICES``, naming the file; None when
    it is one of its choices."""
    value, choices = setting(key), CHOICES[key]
    if value in choices:
        return None
    return (f"{app_settings().fileName()}: {key} = {value!r} is not one of "
            f"{', '.join(choices)}; choose one in Settings")


def choice(key: str) -> str:
    """A setting of ``CHOICES``; SettingValueError (naming the file and the choices)
    when the stored value is none of them, rather than a job asked for it: the dialog
    cannot show such a value and would show another than the job uses."""
    problem = choice_problem(key)
    if problem is not None:
        raise SettingValueError(problem)
    return setting(key)


def annotator_name() -> str:
    """The name labels are given under: the setting, else the user's login name."""
    name = one_line_name(setting("annotator"))
    if name:
        return name
    return login_name()


class SettingsSaved(QObject):
    """Tells the open windows that the settings were saved, so what they show follows at
    once (the blur of the item lists and detail panels, the annotator's name)."""

    saved = Signal()


_notifier: SettingsSaved | None = None


def settings_saved() -> SettingsSaved:
    """The app's one notifier (made on first use, on the UI thread)."""
    global _notifier
    if _notifier is None:
        _notifier = SettingsSaved()
    return _notifier


def _names(kind: str) -> list[str]:
    return sorted(name for name, spec in registry.all_specs().items() if spec.kind == kind)


class SettingsDialog(QDialog):
    """Device, encoders, captioner (local or server) and quantization, model folders,
    offline mode, name, which images are blurred."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        form = QFormLayout()
        # Stored values the drop-down lists cannot show (a hand edit): said, not hidden
        # behind the default the list falls back to.
        self.problems = QLabel("")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color: #c62828")
        self.problems.setVisible(False)
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.setToolTip("auto uses a CUDA GPU when one is usable, else the CPU")
        self.image_encoder = self._editable(_names("clip"), "Image encoder")
        self.text_encoder = self._editable(_names("text"), "Text encoder")
        self.captioner = self._editable(["", *_names("captioner")], "Captioner")  # "": none
        self.captioner.lineEdit().setPlaceholderText("no captions")
        self.quantization = QComboBox()
        self.quantization.addItems(QUANTIZATIONS)
        # What the analyst trades, not only how: memory against caption quality.
        self.quantization.setToolTip(
            "Loads the captioner smaller, to fit the graphics card's memory: 8-bit takes "
            "about half the memory, 4-bit about a third,\nand captions come out a little "
            "less exact. none: full size. auto: 4-bit for the 7B captioners on a GPU, none "
            "on a CPU.\nMade for a CUDA GPU: on a CPU they run, 8-bit very slowly.")
        self.caption_server = QLineEdit()
        self.caption_server.setPlaceholderText("e.g. http://gpu-box:8000/v1 (empty: local)")
        self.caption_server.setToolTip("An OpenAI-compatible server (vLLM, llama.cpp, Ollama)"
                                       " that writes the captions instead of a local model; "
                                       "its API key is read from CRISISDESK_API_KEY")
        self.caption_server_model = QLineEdit()
        self.caption_server_model.setPlaceholderText("the model name the server serves")
        self.offline = QCheckBox("Work &offline (never offer a model download)")
        self.annotator = QLineEdit()
        self.annotator.setPlaceholderText(annotator_name())
        self.blur_sensitive = QCheckBox("&Blur images marked sensitive")
        self.blur_sensitive.setToolTip("Posts their poster or platform marked sensitive "
                                       "(graphic, nudity): blurred until you click them")
        self.blur_all = QCheckBox("Blur &every image until I click it")
        form.addRow("&Device", self.device)
        form.addRow("&Image encoder", self.image_encoder)
        form.addRow("&Text encoder", self.text_encoder)
        form.addRow("C&aptioner", self.captioner)
        # The term, with plain words beside it (a longer label widened the whole form).
        quantization = QHBoxLayout()
        quantization.addWidget(self.quantization)
        memory = QLabel("saves the captioner's memory")
        memory.setStyleSheet(f"color: {style.MUTED}")
        quantization.addWidget(memory, 1)
        form.addRow("&Quantization", quantization)
        form.labelForField(quantization).setBuddy(self.quantization)
        form.addRow("Caption se&rver", self.caption_server)
        form.addRow("Server &model", self.caption_server_model)
        form.addRow("", self.offline)
        form.addRow("Annotator &name", self.annotator)
        form.addRow("Images", self.blur_sensitive)
        form.addRow("", self.blur_all)

        models = QGroupBox("Model &folders")
        box = QVBoxLayout(models)
        self.models = QTreeWidget()
        self.models.setHeaderLabels(["Model", "Kind", "Where"])
        self.models.setRootIsDecorated(False)
        self.models.setMinimumHeight(90)
        self.models.setMaximumHeight(150)
        # Empty, the table showed its headers alone and looked broken.
        EmptyHint(self.models, "No model folders added: the app uses the models in its "
                  "download cache. To use a copy of your own, type its name below, then "
                  "Add a model folder…")
        add = QPushButton("Add a mode&l folder…")
        add.clicked.connect(self.add_model_folder)
        row = QHBoxLayout()
        self.model_name = self._editable(["", *sorted(registry.all_specs())], "Model name")
        self.model_name.lineEdit().setPlaceholderText("model name, e.g. clip-vit-b-32")
        row.addWidget(self.model_name, 1)
        row.addWidget(add)
        box.addWidget(self.models)
        box.addLayout(row)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        # The standard texts carry no mnemonic on every platform (none offscreen, on
        # Windows): Alt+S saves, Alt+C cancels wherever the keys are.
        buttons.button(QDialogButtonBox.StandardButton.Save).setText("&Save")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("&Cancel")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        # The fields scroll, the buttons stay: at 150 % on a 1366 x 768 laptop the
        # dialog was taller than the screen, Save below its edge.
        body = QWidget()
        fields = QVBoxLayout(body)
        fields.setContentsMargins(0, 0, 0, 0)
        fields.addWidget(self.problems)
        fields.addLayout(form)
        fields.addWidget(models)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        # No Tab stop of its own (a nameless "client" to a screen reader): every field in
        # it takes the keys, and the area scrolls to the field that has them.
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)
        self.load()
        # A width, not a minimum: setMinimumWidth overrode the layout's own minimum, so at
        # a large font the dialog opened narrower than its check boxes, their text cut.
        # Tall enough for every field unscrolled (a scroll area's own hint is shorter)...
        margins = layout.contentsMargins()
        self.resize(max(520, body.sizeHint().width() + margins.left() + margins.right()),
                    body.sizeHint().height() + layout.spacing() + buttons.sizeHint().height()
                    + margins.top() + margins.bottom())
        fit_to_screen(self)  # ...where the screen is that tall

    @staticmethod
    def _editable(items: list[str], name: str) -> QComboBox:
        """A drop-down list of ``items`` that takes a typed name too."""
        combo = QComboBox()
        combo.setEditable(True)  # a model registered under a new name can be typed in
        combo.addItems(items)
        # The focus is in its text field, which a screen reader announced unnamed (the
        # form's label names the list only).
        combo.lineEdit().setAccessibleName(name)
        return combo

    def load(self) -> None:
        """Show the saved settings and the registered model folders."""
        self.device.setCurrentText(setting("device"))
        self.image_encoder.setCurrentText(setting("image_encoder"))
        self.text_encoder.setCurrentText(setting("text_encoder"))
        self.captioner.setCurrentText(setting("captioner"))
        self.quantization.setCurrentText(setting("quantization"))
        self.caption_server.setText(setting("caption_server"))
        self.caption_server_model.setText(setting("caption_server_model"))
        self.offline.setChecked(setting("offline"))
        self.annotator.setText(setting("annotator"))
        self.blur_sensitive.setChecked(setting("blur_sensitive"))
        self.blur_all.setChecked(setting("blur_all"))
        problems = [p for p in (*map(unread_problem, DEFAULTS), *map(choice_problem, CHOICES))
                    if p is not None]
        if problems:
            problems.append("Save stores the values shown.")
        self.problems.setText("\n".join(problems))
        self.problems.setVisible(bool(problems))
        self.refresh_models()

    def refresh_models(self) -> None:
        """List the models registered from local folders (a small settings file read)."""
        self.models.clear()
        for name, entry in sorted(registry.registered_paths().items()):
            where = entry.get("path", "")
            if not Path(where).exists():
                # Jobs needing it stop on it (never another copy): say so where it is listed.
                where += "  (missing: register it again where it is now)"
            QTreeWidgetItem(self.models, [name, entry.get("kind", ""), where])
        self.models.resizeColumnToContents(0)

    def save(self) -> bool:
        """Write the settings shown; False (and a message naming the file) when they
        could not be written."""
        values = {
            "device": self.device.currentText(),
            # An encoder left empty means the default one: every embed job needs one.
            "image_encoder": (self.image_encoder.currentText().strip()
                              or DEFAULTS["image_encoder"]),
            "text_encoder": (self.text_encoder.currentText().strip()
                             or DEFAULTS["text_encoder"]),
            "captioner": self.captioner.currentText().strip(),
            "quantization": self.quantization.currentText(),
            "caption_server": self.caption_server.text().strip(),
            "caption_server_model": self.caption_server_model.text().strip(),
            "offline": self.offline.isChecked(),
            "annotator": one_line_name(self.annotator.text()),
            "blur_sensitive": self.blur_sensitive.isChecked(),
            "blur_all": self.blur_all.isChecked(),
        }
        store = app_settings()
        for key, value in values.items():
            store.setValue(key, value)
        store.sync()
        if store.status() != QSettings.Status.NoError:
            # QSettings says nothing of a file it could not write: closing as if saved
            # left the next job on the old settings.
            QMessageBox.warning(self, "Settings not saved",
                                f"{store.fileName()} cannot be written ({store.status().name})"
                                ": the settings were not saved.")
            return False
        settings_saved().saved.emit()
        return True

    def accept(self) -> None:
        if self.save():
            super().accept()

    def add_model_folder(self) -> bool:
        """Register a local folder as the model named in the name box."""
        name = self.model_name.currentText().strip()
        if not name:
            QMessageBox.information(self, "Model name needed",
                                    "Type the model's name first (e.g. clip-vit-b-32).")
            return False
        folder = QFileDialog.getExistingDirectory(self, f"Folder holding the model {name}")
        if not folder:
            return False
        try:
            registry.register(name, folder)
        except (FileNotFoundError, ValueError) as exc:
            QMessageBox.warning(self, "Model folder not usable", str(exc))
            return False
        self.refresh_models()
        return True
