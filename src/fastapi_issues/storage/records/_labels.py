"""Label logic shared by the stores that keep everything in Python objects.

The functions that take a `dict` edit it in place and raise, if at all, before editing, as
`DurableJSONArray` changes must.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence

from fastapi_issues.schemas import LabelCreate, LabelOut, LabelUpdate
from fastapi_issues.storage.errors import DuplicateLabel, LabelNotFound
from fastapi_issues.storage.query import LabelPage
from fastapi_issues.storage.rules import label_key, label_sort_key

LabelIdsEdit = Callable[[tuple[str, ...]], tuple[str, ...]]
"""A change to an issue's label ids: the new ids, given the old."""


class LabelIndex:
    """Labels by id (as stored) and by name key, with the name-ordered list cached."""

    __slots__ = ("_ordered", "by_id", "by_key")

    def __init__(self, by_id: Mapping[str, LabelOut]) -> None:
        self.by_id = by_id
        self.by_key = {label_key(label.name): label for label in by_id.values()}
        self._ordered: list[LabelOut] | None = None

    def get(self, name: str) -> LabelOut:
        label = self.by_key.get(label_key(name))
        if label is None:
            raise LabelNotFound([name])
        return label

    def ids(self, names: Iterable[str]) -> tuple[str, ...]:
        """The ids of the labels named, in order, once each; `LabelNotFound` names all
        unknown names."""
        ids: dict[str, None] = {}
        unknown: list[str] = []
        for name in names:
            label = self.by_key.get(label_key(name))
            if label is None:
                unknown.append(name)
            else:
                ids[label.id] = None
        if unknown:
            raise LabelNotFound(unknown)
        return tuple(ids)

    def page(self, offset: int, limit: int) -> LabelPage:
        if self._ordered is None:
            labels = self.by_id.values()
            self._ordered = sorted(labels, key=lambda label: label_sort_key(label.name))
        return LabelPage(items=self._ordered[offset : offset + limit], total=len(self._ordered))

    def all(self) -> Sequence[LabelOut]:
        """Every label, by name."""
        return self.page(0, len(self.by_id)).items

    # The edits look the names up only when applied: after the issue and its version are
    # checked, so an unknown issue is reported before unknown label names.

    def setting(self, names: Iterable[str]) -> LabelIdsEdit:
        """The edit to make the labels named the issue's only ones."""
        return lambda _: self.ids(names)

    def adding(self, names: Iterable[str]) -> LabelIdsEdit:
        """The edit to add the labels named after the issue's own."""
        return lambda old: with_ids(old, self.ids(names))

    def removing(self, names: Iterable[str]) -> LabelIdsEdit:
        """The edit to take the labels named off the issue."""
        return lambda old: without_ids(old, self.ids(names))


def with_ids(ids: tuple[str, ...], added: tuple[str, ...]) -> tuple[str, ...]:
    """`ids` and then those of `added` not among them, in their order."""
    return ids + tuple(i for i in added if i not in ids)


def without_ids(ids: tuple[str, ...], removed: tuple[str, ...]) -> tuple[str, ...]:
    """`ids` less `removed`, in their order."""
    return tuple(i for i in ids if i not in removed)


def _find(labels: Mapping[str, LabelOut], name: str) -> LabelOut | None:
    key = label_key(name)
    return next((label for label in labels.values() if label_key(label.name) == key), None)


def insert_label(labels: dict[str, LabelOut], data: LabelCreate) -> LabelOut:
    if _find(labels, data.name) is not None:
        raise DuplicateLabel(data.name)
    label = LabelOut(
        id=str(uuid.uuid4()), name=data.name, color=data.color, description=data.description
    )
    labels[label.id] = label
    return label


def change_label(labels: dict[str, LabelOut], name: str, changes: LabelUpdate) -> LabelOut:
    label = _find(labels, name)
    if label is None:
        raise LabelNotFound([name])
    altered = {k: v for k, v in changes.changes().items() if getattr(label, k) != v}
    new_name = altered.get("name")
    renamed = isinstance(new_name, str) and label_key(new_name) != label_key(label.name)
    if renamed and _find(labels, str(new_name)) is not None:
        raise DuplicateLabel(str(new_name))
    if not altered:
        return label
    updated = label.model_copy(update=altered)
    labels[label.id] = updated
    return updated


def add_missing_labels(labels: dict[str, LabelOut], imported: Iterable[LabelOut]) -> int:
    """Add labels as they are, skipping those whose id or name (ignoring case) is taken."""
    keys = {label_key(label.name) for label in labels.values()}
    added = 0
    for label in imported:
        key = label_key(label.name)
        if label.id in labels or key in keys:
            continue
        labels[label.id] = label
        keys.add(key)
        added += 1
    return added


def labels_named(labels: dict[str, LabelOut], names: Iterable[str]) -> dict[str, str]:
    """Label ids by key for `names`, making plain labels for names no label has yet."""
    by_key = {label_key(label.name): label.id for label in labels.values()}
    for name in names:
        key = label_key(name)
        if key not in by_key:
            label = LabelOut(id=str(uuid.uuid4()), name=name, color="ededed")
            labels[label.id] = label
            by_key[key] = label.id
    return by_key


def remove_label(labels: dict[str, LabelOut], name: str) -> LabelOut:
    label = _find(labels, name)
    if label is None:
        raise LabelNotFound([name])
    del labels[label.id]
    return label
