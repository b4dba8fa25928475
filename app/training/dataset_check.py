"""The dataset check panel: runs `python -m trainers <method> ... --validate-only` in a QProcess
(debounced, the newest request wins, the GUI never waits) and shows its JSON summary."""

from __future__ import annotations

import html
import json
from typing import Any

from PySide6.QtCore import QProcess, Qt, QTimer, Signal
from PySide6.QtWidgets import QGroupBox, QLabel, QVBoxLayout, QWidget

from app.training.process import Launch, trainer_process

DEBOUNCE_MS = 400
SHOWN_NAMES = 4  # file names listed per problem before "… and N more"
ERROR, WARNING, GOOD = "#FF6B6B", "#E8B14A", "#6FCF73"


class DatasetCheck(QGroupBox):
    """`ok` is True only after a finished check found no errors; `pending` while one is due or running."""

    state_changed = Signal()

    def __init__(self, method: str, parent: QWidget | None = None) -> None:
        super().__init__("Dataset check", parent)
        self._method = method
        self._args: list[str] = []
        self._process: QProcess | None = None
        self.summary: dict[str, Any] | None = None
        self.ok = False
        self.pending = False
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self._run)

        self.headline = QLabel()
        self.headline.setWordWrap(True)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.details)

    def request(self, args: list[str]) -> None:
        """Check with these trainer options soon; edits within DEBOUNCE_MS merge into one check, and
        asking again for the options already checked (or being checked) changes nothing."""
        args = [*args, "--validate-only"]
        if args == self._args and (self.pending or self.summary is not None):
            return
        self._args = args
        self.ok, self.summary, self.pending = False, None, True
        self._timer.start()
        self.state_changed.emit()

    def clear(self, message: str) -> None:
        """No check possible yet (e.g. a folder is missing): say what is needed."""
        self._timer.stop()
        self._abandon()
        self._args = []
        self.ok, self.summary, self.pending = False, None, False
        self._show(message, "", None)
        self.state_changed.emit()

    def _run(self) -> None:
        self._abandon()
        process = trainer_process(Launch(self._method), self._args)
        process.setParent(self)  # closing the dialog ends a check still running
        process.finished.connect(lambda *_: self._finished(process))
        process.errorOccurred.connect(lambda error: self._failed_to_start(process, error))
        self._process = process
        self._show("Checking the dataset…", "", None)
        process.start()

    def _abandon(self) -> None:
        """Drop the running check: its answer is for folders the user has since changed."""
        old, self._process = self._process, None
        if old is not None:
            old.finished.disconnect()
            old.errorOccurred.disconnect()
            old.finished.connect(old.deleteLater)  # delete only once it has really ended
            old.kill()

    def _failed_to_start(self, process: QProcess, error: QProcess.ProcessError) -> None:
        if process is self._process and error == QProcess.ProcessError.FailedToStart:
            self._process = None
            process.deleteLater()
            self._settle(None, f"The check could not start: {process.errorString()}")

    def _finished(self, process: QProcess) -> None:
        if process is not self._process:
            return
        self._process = None
        out = bytes(process.readAllStandardOutput().data()).decode("utf-8", "replace")
        err = bytes(process.readAllStandardError().data()).decode("utf-8", "replace")
        code = process.exitCode() if process.exitStatus() == QProcess.ExitStatus.NormalExit else -1
        process.deleteLater()
        summary = _parse_summary(out)
        if summary is None or code not in (0, 2):
            last = next((line for line in reversed(err.splitlines()) if line.strip()), f"exit code {code}")
            self._settle(None, f"The check did not finish: {last.strip()}")
        else:
            self._settle(summary, "")

    def _settle(self, summary: dict[str, Any] | None, failure: str) -> None:
        self.pending = False
        self.summary = summary
        self.ok = summary is not None and not summary.get("errors")
        if summary is None:
            self._show(failure, "", ERROR)
        elif self.ok:
            self._show(f"✓ {_usable(summary)} ready to train.", _details(summary), GOOD)
        else:
            problems = len(summary.get("errors") or ())
            self._show(f"✗ {problems} problem{'s' * (problems != 1)}: fix {'them' if problems != 1 else 'it'}"
                       " to start.", _details(summary), ERROR)
        self.state_changed.emit()

    def _show(self, headline: str, details: str, colour: str | None) -> None:
        self.headline.setText(headline)
        self.headline.setStyleSheet(f"color: {colour}; font-weight: 600;" if colour else "")
        self.details.setText(details)
        self.details.setVisible(bool(details))


def _parse_summary(out: str) -> dict[str, Any] | None:
    start = out.find("{")  # anything printed before the JSON (a library's notice) is not ours
    try:
        summary = json.loads(out[start:]) if start >= 0 else None
    except ValueError:
        return None
    return summary if isinstance(summary, dict) else None


def _usable(summary: dict[str, Any]) -> str:
    """"12 pairs" for paired folders (SPADE), "12 photos in A and 9 in B" for two domains (CycleGAN, CUT) or
    "12 content photos and 9 style images" when the summary names them (HierarchyFlow), "12 photos in 3 classes"
    for a folder of class folders (DeepI2I), "12 photos" for one folder of photos or the photos of SinCUT."""
    if "pairs" in summary:
        return f"{_count(summary['pairs'])} pairs"
    if "images_A" in summary:
        a, b = _count(summary["images_A"]), _count(summary.get("images_B"))
        if names := summary.get("domain_names"):
            return f"{a} {names.get('A', 'in A')} and {b} {names.get('B', 'in B')}"
        return f"{a} photos in A and {b} in B"
    if summary.get("classes"):  # a folder of class folders (DeepI2I)
        return f"{_count(summary.get('images'))} photos in {len(summary['classes'])} classes"
    return f"{_count(summary.get('images'))} photos"


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list | tuple | dict) else int(value or 0)


def _names(value: Any) -> str:
    """"3: a.png, b.png, …" for a list of file names; just the number for a count."""
    if not isinstance(value, list | tuple) or not value:
        return str(_count(value))
    shown = ", ".join(html.escape(str(v)) for v in value[:SHOWN_NAMES])
    more = f", … and {len(value) - SHOWN_NAMES} more" if len(value) > SHOWN_NAMES else ""
    return f"{len(value)}: {shown}{more}"


def _sizes(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{html.escape(str(k))} ({v})" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple):
        return ", ".join(html.escape(str(v)) for v in value) or "none"
    return html.escape(str(value))


def _ids(value: Any) -> str:
    """"0–14, 20 (16)": runs of consecutive ids, then how many."""
    ids = sorted({int(v) for v in value or ()})
    if not ids:
        return "none"
    parts, start, prev = [], ids[0], ids[0]
    for i in [*ids[1:], -2]:
        if i != prev + 1:
            parts.append(str(start) if start == prev else f"{start}–{prev}")
            start = i
        prev = i
    return f"{', '.join(parts)} ({len(ids)})"


def _cell(text: str, colour: str | None) -> str:
    return f'<td style="color:{colour}">{text}</td>' if colour else f"<td>{text}</td>"


def _details(summary: dict[str, Any]) -> str:
    paired, domains = "pairs" in summary, "images_A" in summary
    if domains:
        counts = [_count(summary.get(f"images_{d}")) for d in "AB"]
        usable = min(counts)
        names = summary.get("domain_names")
        rows = [("Images", f"{names.get('A', 'A')} {counts[0]}, {names.get('B', 'B')} {counts[1]}", None) if names
                else ("Photos", f"A {counts[0]}, B {counts[1]}", None)]
    else:
        usable = _count(summary.get("pairs" if paired else "images"))
        rows = [("Pairs" if paired else "Photos", str(usable), None)]
    if classes := summary.get("classes"):  # [[name, photos], ...]
        shown = ", ".join(f"{html.escape(str(name))} ({count})" for name, count in classes[:12])
        rows.append(("Classes", f"{len(classes)}: {shown}{' …' if len(classes) > 12 else ''}", None))
    if usable:
        rows.append(("Sizes", _sizes(summary.get("sizes")), None))
        if "label_ids_found" in summary:
            rows.append(("Label ids found", _ids(summary.get("label_ids_found")), None))
    if "palette" in summary:
        rows.append(("Palette", f"{html.escape(str(summary['palette']))}, label_nc {summary.get('label_nc')}", None))
    for key, title in (("ids_outside_palette", "Ids outside the palette"),
                       ("unmatched_images", "Photos without a label map"),
                       ("unmatched_labels", "Label maps without a photo"),
                       ("too_small", "Photos smaller than the crop"),
                       ("unreadable", "Files that cannot be read")):
        value = summary.get(key)
        if _count(value):
            text = _ids(value) if key == "ids_outside_palette" else _names(value)
            rows.append((title, text, WARNING))
    table = "".join(f"<tr><td>{title}&nbsp;&nbsp;</td>{_cell(text, c)}</tr>" for title, text, c in rows)
    messages = "".join(f"<div style='color:{colour}'>• {html.escape(str(m))}</div>"
                       for key, colour in (("errors", ERROR), ("warnings", WARNING)) for m in summary.get(key) or ())
    return f"<table cellspacing=0 cellpadding=2>{table}</table>{messages}"
