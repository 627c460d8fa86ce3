"""Quality badges: the score band of a quality report and the badges of the datasets on one
page, looked up in one query by the page handlers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from allmende.access.policy import Actor
from allmende.db.models import Dataset, QualityReport
from allmende.harmonize import service
from allmende.web.ui.helpers import N_
from allmende.web.ui.render import templates

#: Lower bounds of the score bands: the badge's colour and its word.
BANDS = ((90.0, "good"), (70.0, "fair"), (0.0, "poor"))
BAND_LABELS = {"good": N_("good"), "fair": N_("fair"), "poor": N_("poor")}

def band(score: float) -> str:
    return next(name for bound, name in BANDS if score >= bound)


@dataclass(frozen=True)
class Quality:
    resource_id: str
    score: float

    @property
    def band(self) -> str:
        return band(self.score)


class QualityIndex:
    """The latest quality reports of the resources of the datasets on one page."""

    def __init__(self, reports: dict[str, QualityReport]) -> None:
        self._found = {rid: Quality(rid, r.score) for rid, r in reports.items()}

    def resource(self, resource_id: str) -> Quality | None:
        return self._found.get(resource_id)

    def dataset(self, dataset: Dataset) -> Quality | None:
        """The lowest score among the dataset's resources: the badge promises no more."""
        found = [q for r in dataset.resources if (q := self._found.get(r.id))]
        return min(found, key=lambda q: q.score, default=None)


def quality_index(session: Session, actor: Actor, datasets: Iterable[Dataset]) -> QualityIndex:
    """The quality badges of a page's datasets, in one query. Only datasets whose rows the
    actor may read get a badge: it links to the report, which shows cells."""
    return QualityIndex(service.reports_for(session, actor,
                                            [r for d in datasets for r in d.resources]))


templates.env.globals.update(quality_band=band, band_labels=BAND_LABELS)
