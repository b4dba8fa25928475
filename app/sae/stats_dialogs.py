"""Choosing photos for editing statistics: a list of photo files and folders (buttons or drag and drop)
with a running count, and the "New attribute" dialog built from two of them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.widgets.files import PHOTO, PHOTO_FILTER, existing_folder, open_file_names
from engine.codes import ATTRIBUTE_NAME_LIMIT, PHOTO_SUFFIXES

PATH_ROLE = Qt.ItemDataRole.UserRole


def photos_in(path: str | Path) -> list[Path]:
    """The photo files `path` stands for: itself if it is one, else the photos in the folder and its
    subfolders (as the engine gathers them)."""
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
    return [path] if path.is_file() and path.suffix.lower() in PHOTO_SUFFIXES else []


def count_text(n: int) -> str:
    return f"{n} photo{'' if n == 1 else 's'}"


class PhotoList(QGroupBox):
    """Files and folders of photos, added with buttons or dropped from a file manager."""

    changed = Signal()

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.setAcceptDrops(True)
        self.list = QListWidget()
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.list.setToolTip("Drop photo files or folders here")
        self.list.setMinimumHeight(120)
        self.count_label = QLabel()
        self.count_label.setProperty("role", "muted")
        add_files = QPushButton("Add photos…")
        add_files.clicked.connect(self._choose_files)
        add_folder = QPushButton("Add folder…")
        add_folder.clicked.connect(self._choose_folder)
        self.remove = QPushButton("Remove")
        self.remove.setToolTip("Take the selected entries off the list")
        self.remove.clicked.connect(self._remove_selected)
        self.list.itemSelectionChanged.connect(lambda: self.remove.setEnabled(bool(self.list.selectedItems())))
        buttons = QHBoxLayout()
        buttons.addWidget(add_files)
        buttons.addWidget(add_folder)
        buttons.addWidget(self.remove)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.count_label)
        layout.addLayout(buttons)
        self._update()

    def paths(self) -> tuple[str, ...]:
        return tuple(self.list.item(i).data(PATH_ROLE) for i in range(self.list.count()))

    def photo_count(self) -> int:
        return sum(len(photos_in(p)) for p in self.paths())

    def add_paths(self, paths: Iterable[str | Path]) -> None:
        """Add files and folders (each once); anything that holds no photo is left out."""
        known = set(self.paths())
        for path in paths:
            path = Path(path).resolve()
            found = photos_in(path)
            if str(path) in known or not found:
                continue
            known.add(str(path))
            text = f"{path.name}/  ({count_text(len(found))})" if path.is_dir() else path.name
            item = QListWidgetItem(text)
            item.setData(PATH_ROLE, str(path))
            item.setToolTip(str(path))
            self.list.addItem(item)
        self._update()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    def _choose_files(self) -> None:
        paths = open_file_names(self, f"{self.title()}: add photos", PHOTO_FILTER, PHOTO)
        self.add_paths(paths)

    def _choose_folder(self) -> None:
        folder = existing_folder(self, f"{self.title()}: add a folder of photos", PHOTO)
        if folder:
            self.add_paths([folder])

    def _remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))
        self._update()

    def _update(self) -> None:
        n = self.photo_count()
        self.count_label.setText(count_text(n) if n else "No photos yet: add files or a folder, or drop them here.")
        self.remove.setEnabled(bool(self.list.selectedItems()))
        self.changed.emit()


class NewAttributeDialog(QDialog):
    """A name and two groups of photos; the attribute is the texture direction from group A to group B."""

    def __init__(self, existing: Sequence[str] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New attribute")
        self._existing = set(existing)
        self.name = QLineEdit(placeholderText="e.g. snow")
        self.name.setMaxLength(ATTRIBUTE_NAME_LIMIT)
        explain = QLabel("The attribute's slider moves a photo's texture from group A towards group B: "
                         "+1 adds the whole difference between the two groups' mean textures. "
                         "A few photos per group are enough; more give a cleaner direction.", wordWrap=True)
        explain.setProperty("role", "muted")
        self.group_a = PhotoList("Group A (from, e.g. summer)")
        self.group_b = PhotoList("Group B (to, e.g. snow)")
        self.note = QLabel(wordWrap=True)
        self.note.setProperty("role", "muted")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Add attribute")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Name", self.name)
        groups = QHBoxLayout()
        groups.addWidget(self.group_a)
        groups.addWidget(self.group_b)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(explain)
        layout.addLayout(groups, 1)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)
        for signal in (self.name.textChanged, self.group_a.changed, self.group_b.changed):
            signal.connect(self._validate)
        self.resize(640, 420)
        self._validate()

    def attribute_name(self) -> str:
        return " ".join(self.name.text().split())

    def _validate(self) -> None:
        name = self.attribute_name()
        missing = [title for title, group in (("a name", bool(name)), ("photos in group A", self.group_a.photo_count()),
                                              ("photos in group B", self.group_b.photo_count())) if not group]
        if missing:
            self.note.setText("Still needed: " + ", ".join(missing) + ".")
        elif name in self._existing:
            self.note.setText(f"The model already has an attribute named '{name}': this replaces it.")
        else:
            self.note.setText("")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not missing)
