"""Small-cell suppression for counts and aggregates.

Where it applies (docs/privacy.md): to versions in which the personal-data scan found
something (held, decided or published from a decision: the table is about people), and to
any dataset whose admins set a threshold of their own; never for the owning organization's
editors and admins, who read the rows anyway. A cell (a group) counting fewer than ``k`` rows
is suppressed (primary); then, line by line, a suppressed cell that is alone in its line gets
the smallest other cell of that line beside it (secondary), so that it cannot be recomputed
from the line's total (a one-dimensional table has one line, whose total the rows endpoint
tells). Lines are the cells that agree in every group column but one; the rule is applied
until no line has a lone suppressed cell.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import cache
from typing import Any

import orjson
from sqlalchemy import bindparam, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from allmende.access.policy import Action, Actor, authorize, is_allowed
from allmende.catalog import datasets
from allmende.db.models import DatasetPrivacy, Resource, VersionPrivacy
from allmende.errors import Conflict, FieldError, Invalid, msg

DEFAULT_K = 3
MAX_K = 100


def threshold(session: Session, actor: Actor, resource: Resource, version: int) -> int | None:
    """The k this actor's aggregates of this version are suppressed with, None for none."""
    dataset = resource.dataset
    if is_allowed(actor, Action.READ_HELD_VERSION, dataset):
        return None
    own, found = session.execute(_settings_query(), {
        "dataset": dataset.id, "resource": resource.id, "version": version}).one()
    if own is not None:
        return own
    return DEFAULT_K if found else None


@cache
def _settings_query() -> Any:
    """The dataset's own k and whether the version had findings, in one statement built once:
    every read from outside the organization asks (building it cost more than running it)."""
    return select(
        select(DatasetPrivacy.suppression_k)
        .where(DatasetPrivacy.dataset_id == bindparam("dataset")).scalar_subquery(),
        exists().where(VersionPrivacy.resource_id == bindparam("resource"),
                       VersionPrivacy.version == bindparam("version")))


def check_k(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= MAX_K:
        raise Invalid(msg("Die Einstellung ist ungültig."), [FieldError(
            "suppression_k", msg("Zwischen 1 (nichts unterdrücken) und {maximum}.",
                                 maximum=MAX_K))])
    return value


def suppressed_cells(keys: Sequence[tuple[Any, ...]], counts: Sequence[int], k: int
                     ) -> list[bool]:
    """Which cells to suppress: primary (count below k) and secondary (see the module)."""
    hidden = [0 < c < k for c in counts]
    dimensions = len(keys[0]) if keys else 0
    changed = any(hidden)
    while changed:
        changed = False
        for axis in range(dimensions):
            lines: dict[tuple[Any, ...], list[int]] = defaultdict(list)
            for index, key in enumerate(keys):
                lines[key[:axis] + key[axis + 1:]].append(index)
            for cells in lines.values():
                changed |= _complete_line(cells, hidden, counts)
    return hidden


def _complete_line(cells: list[int], hidden: list[bool], counts: Sequence[int]) -> bool:
    """Suppress a second cell in a line with exactly one: the smallest other one."""
    if sum(1 for i in cells if hidden[i]) != 1:
        return False
    others = [i for i in cells if not hidden[i]]
    if not others:
        return False
    hidden[min(others, key=lambda i: (counts[i], i))] = True
    return True


def key_of(values: Sequence[Any]) -> bytes:
    """A hashable key for a group's JSON values."""
    return orjson.dumps(list(values), option=orjson.OPT_NON_STR_KEYS)


def mask(groups: Sequence[Sequence[Any]], counts: Sequence[int], k: int) -> set[bytes]:
    """The keys (:func:`key_of`) of the suppressed groups of a complete grouping."""
    keys = [tuple(key_of([v]) for v in group) for group in groups]
    hidden = suppressed_cells(keys, counts, k)
    return {key_of(group) for group, gone in zip(groups, hidden, strict=True) if gone}


def dataset_threshold(session: Session, actor: Actor, name: str) -> int | None:
    """The k a visible dataset set for itself (None: the default where suppression applies)."""
    dataset = datasets.get_dataset(session, actor, name)
    own = session.get(DatasetPrivacy, dataset.id)
    return own.suppression_k if own is not None else None


def set_dataset_threshold(session: Session, actor: Actor, name: str, k: int | None
                          ) -> int | None:
    """Set (or with None reset) the dataset's k: its aggregates are then suppressed with it
    even where no personal data was found. Only the organization's admins."""
    dataset = datasets.get_dataset(session, actor, name)
    authorize(actor, Action.DECIDE_PERSONAL_DATA, dataset, msg(
        "Die Unterdrückung kleiner Fallzahlen stellen nur die Administratorinnen und "
        "Administratoren der Organisation ein."))
    check_k(k)
    own_settings(session, dataset.id).suppression_k = k
    return k


def own_settings(session: Session, dataset_id: int) -> DatasetPrivacy:
    """The dataset's privacy row, made on first use: of two first uses at once, one inserts
    and the other reads what it inserted (a savepoint keeps the transaction usable)."""
    own = session.get(DatasetPrivacy, dataset_id)
    if own is not None:
        return own
    try:
        with session.begin_nested():
            own = DatasetPrivacy(dataset_id=dataset_id)
            session.add(own)
    except IntegrityError:
        own = session.get(DatasetPrivacy, dataset_id, populate_existing=True)
    if own is None:
        raise Conflict(msg("Die Datenschutz-Einstellungen des Datensatzes ließen sich nicht "
                           "anlegen; bitte versuchen Sie es noch einmal."), "privacy_conflict")
    return own
