"""Preset gallery: the shipped presets with title, description and parameter count.

Counts come from Keras like every other number in the editor: the summary service builds the
presets in the background (small ones first) and the results are cached on disk, keyed by a
hash of the preset text, so the gallery opens with its numbers the next time.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core.blocks import registry
from resnet_studio.core.presets import DEFAULT_PRESET, list_presets, load_preset, preset_text
from resnet_studio.core.spec import ArchitectureSpec, atomic_write_text
from resnet_studio.core.userdata import studio_home
from resnet_studio.gui import icons, theme
from resnet_studio.gui.summary_worker import SummaryService

NAME_ROLE = Qt.ItemDataRole.UserRole
COUNT_ROLE = Qt.ItemDataRole.UserRole + 1
FAMILY_ROLE = Qt.ItemDataRole.UserRole + 2
META_ROLE = Qt.ItemDataRole.UserRole + 3
KEY_PREFIX = "preset:"


def _cache_file() -> Path:
    return studio_home() / "cache" / "preset-params.json"


def _digest(name: str) -> str:
    return hashlib.sha256(preset_text(name).encode("utf-8")).hexdigest()[:16]


def load_counts() -> dict[str, int]:
    """Cached parameter counts of presets whose text has not changed since."""
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out = {}
    for name, entry in data.items() if isinstance(data, dict) else ():
        try:
            if entry["sha"] == _digest(name):
                out[name] = int(entry["params"])
        except (KeyError, TypeError, ValueError, OSError):
            continue
    return out


def save_count(name: str, params: int) -> None:
    path = _cache_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data[name] = {"sha": _digest(name), "params": params}
    try:
        atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n", backup=False)
    except OSError:
        pass  # a cache: failing to write it costs a recount next time, nothing else


def format_params(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.1f} M params"
    if n >= 10_000:
        return f"{n / 1e3:.0f} k params"
    return f"{n:,} params"


def main_family(spec: ArchitectureSpec) -> str:
    """The family that characterises a preset (its first residual block's, else its first)."""
    families = [registry.BLOCK_TYPES[b.type].family for _, b in spec.walk()
                if b.type in registry.BLOCK_TYPES]
    for _, b in spec.walk():
        bt = registry.BLOCK_TYPES.get(b.type)
        if bt is not None and bt.has_shortcut and bt.family != "Containers":
            return bt.family
    return families[0] if families else "Layers"


class _PresetDelegate(QStyledItemDelegate):
    """Two-line card: icon, bold title and count; name · input · dataset; description."""

    PAD = 10

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        fm = QFontMetrics(option.font)
        return QSize(400, self.PAD * 2 + fm.height() * 4 + 6)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        pal = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        r = option.rect.adjusted(4, 3, -4, -3)
        fill = theme.mix(pal.color(QPalette.ColorRole.Base),
                         pal.color(QPalette.ColorRole.Highlight), 0.16 if selected else 0.0)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(fill)
        border = pal.color(QPalette.ColorRole.Highlight) if selected else \
            theme.mix(pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text), 0.15)
        painter.setPen(border)
        painter.drawRoundedRect(r, 8, 8)
        family = index.data(FAMILY_ROLE) or "Layers"
        icons.paint(painter, f"family-{family.lower()}",
                    QRect(r.left() + self.PAD, r.top() + self.PAD, 28, 28),
                    theme.accent(theme.family_color(family), pal))
        x = r.left() + self.PAD + 40
        width = r.right() - x - self.PAD
        fm = QFontMetrics(option.font)
        bold = QFont(option.font)
        bold.setBold(True)
        count = index.data(COUNT_ROLE)
        count_text = format_params(count) if isinstance(count, int) else "counting…"
        painter.setFont(option.font)
        painter.setPen(theme.dim_text(pal))
        cw = fm.horizontalAdvance(count_text)
        y = r.top() + self.PAD
        painter.drawText(QRect(r.right() - self.PAD - cw, y, cw, fm.height()),
                         Qt.AlignmentFlag.AlignRight, count_text)
        painter.setFont(bold)
        painter.setPen(pal.color(QPalette.ColorRole.Text))
        painter.drawText(QRect(x, y, width - cw - 10, fm.height()), Qt.AlignmentFlag.AlignLeft,
                         QFontMetrics(bold).elidedText(index.data(Qt.ItemDataRole.DisplayRole),
                                                       Qt.TextElideMode.ElideRight,
                                                       width - cw - 10))
        painter.setFont(option.font)
        painter.setPen(theme.dim_text(pal))
        y += fm.height() + 2
        painter.drawText(QRect(x, y, width, fm.height()), Qt.AlignmentFlag.AlignLeft,
                         fm.elidedText(index.data(META_ROLE) or "",
                                       Qt.TextElideMode.ElideRight, width))
        y += fm.height() + 4
        painter.setPen(pal.color(QPalette.ColorRole.Text))
        painter.drawText(QRect(x, y, width, fm.height() * 2 + 2),
                         Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft,
                         _two_lines(fm, index.data(Qt.ItemDataRole.ToolTipRole) or "", width))
        painter.restore()


def _two_lines(fm: QFontMetrics, text: str, width: int) -> str:
    """The text cut to what fits on two lines of `width`, with an ellipsis."""
    words, lines, line = text.split(), [], ""
    for w in words:
        candidate = f"{line} {w}".strip()
        if fm.horizontalAdvance(candidate) <= width:
            line = candidate
            continue
        lines.append(line)
        line = w
        if len(lines) == 2:
            break
    if len(lines) < 2:
        lines.append(line)
        return "\n".join(lines)
    lines[1] = fm.elidedText(lines[1] + " " + line + " …", Qt.TextElideMode.ElideRight, width)
    return "\n".join(lines)


class PresetGallery(QDialog):
    """Pick a shipped preset to start from."""

    def __init__(self, service: SummaryService | None, parent: QWidget | None = None,
                 current: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preset Gallery")
        self.setWindowIcon(icons.icon("gallery"))
        self.resize(640, 620)
        self.service = service
        intro = QLabel("Start from a shipped architecture. Parameter counts are computed by "
                       "Keras in the background.", self)
        intro.setWordWrap(True)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Filter presets…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter)
        self.list = QListWidget(self)
        self.list.setItemDelegate(_PresetDelegate(self.list))
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setUniformItemSizes(True)
        self.list.itemDoubleClicked.connect(lambda _i: self.accept())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)
        self.items: dict[str, QListWidgetItem] = {}
        counts = load_counts()
        specs: dict[str, ArchitectureSpec] = {}
        for info in list_presets():
            item = QListWidgetItem(info.title or info.name)
            item.setData(NAME_ROLE, info.name)
            item.setData(Qt.ItemDataRole.ToolTipRole, info.description)
            meta = [info.name, f"{info.input_kind} input"]
            if info.dataset:
                meta.append(f"dataset {info.dataset}")
            item.setData(META_ROLE, " · ".join(meta))
            try:
                specs[info.name] = load_preset(info.name)
                item.setData(FAMILY_ROLE, main_family(specs[info.name]))
            except ValueError:
                item.setData(FAMILY_ROLE, "Layers")
            if info.name in counts:
                item.setData(COUNT_ROLE, counts[info.name])
            self.list.addItem(item)
            self.items[info.name] = item
        select = self.items.get(current or DEFAULT_PRESET) or self.list.item(0)
        self.list.setCurrentItem(select)
        if service is not None:
            service.counted.connect(self._on_counted)
            # The selected preset first, then in list order; cached ones are skipped.
            first = select.data(NAME_ROLE) if select else None
            todo = sorted((n for n in specs if n not in counts), key=lambda n: n != first)
            for name in todo:
                service.count(KEY_PREFIX + name, specs[name])

    def selected_name(self) -> str | None:
        item = self.list.currentItem()
        return item.data(NAME_ROLE) if item else None

    def _filter(self, text: str) -> None:
        needle = text.lower().split()
        for item in self.items.values():
            hay = " ".join(str(item.data(r) or "") for r in (
                Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole,
                META_ROLE)).lower()
            item.setHidden(not all(w in hay for w in needle))

    def _on_counted(self, key: str, total: object, _error: str) -> None:
        if not key.startswith(KEY_PREFIX):
            return
        name = key[len(KEY_PREFIX):]
        item = self.items.get(name)
        if isinstance(total, int):
            save_count(name, total)
            if item is not None:
                item.setData(COUNT_ROLE, total)

    def done(self, result: int) -> None:
        if self.service is not None:
            # Counts not done yet are dropped; the cache keeps those that are.
            self.service.cancel_counts()
            self.service.counted.disconnect(self._on_counted)
        super().done(result)
