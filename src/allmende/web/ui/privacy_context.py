"""What the resource page shows of the personal-data guard: the held notice, the decision form
for the organization's admins, and a note for readers who see an earlier version."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from allmende.access.policy import Action, Actor, is_allowed
from allmende.db.models import Resource, TableVersion
from allmende.privacy import held
from allmende.privacy.decisions import ACTIONS
from allmende.web.ui.helpers import N_

KIND_LABELS = {
    "email": N_("e-mail address"),
    "phone": N_("phone number"),
    "iban": N_("IBAN"),
    "tax_id": N_("tax ID (Steuer-ID)"),
    "social_security": N_("social security number"),
    "licence_plate": N_("licence plate"),
    "birth_date": N_("date of birth"),
    "name": N_("person's name"),
}
ACTION_LABELS = {
    "drop": N_("Remove the column"),
    "hash": N_("Replace by a keyed hash (equal values stay equal)"),
    "truncate": N_("Shorten to the first 3 characters"),
    "generalize": N_("Coarsen (date to year, postcode to 3 digits, number to bands of 10)"),
    "confirm": N_("Publish unchanged (a reason is required)"),
}


def privacy_context(session: Session, actor: Actor, resource: Resource,
                    version: TableVersion, asked: bool) -> dict[str, Any]:
    """The privacy state of the version shown, whether the actor may decide on it, and
    whether the newest version is kept from this reader (who then sees an earlier one)."""
    state = held.states(session, resource.dataset, resource.id, [version.version]) \
        .get(version.version)
    return {
        "privacy": state, "kind_labels": KIND_LABELS, "action_labels": ACTION_LABELS,
        "decision_actions": ACTIONS,
        "can_decide": state is not None and state.status == "pending"
        and version.version == resource.current_version
        and is_allowed(actor, Action.DECIDE_PERSONAL_DATA, resource.dataset),
        "newer_held": not asked and version.version < (resource.current_version or 0),
    }
