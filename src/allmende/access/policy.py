"""Every permission decision in allmende is made here.

Interfaces never decide on their own: they call :func:`authorize` for a single object, or use
:func:`visibility` to restrict a listing, so that no endpoint can forget a check.

Rules (see docs/permissions.md):
- a sysadmin may do everything;
- organization admins manage their organization, its members and its datasets, and may delete
  and restore them; editors create and edit datasets of their organization; members see its drafts;
- rows: ``public`` to everyone, ``members`` to users of alliance organizations, ``restricted``
  to the owning organization and to holders of an active agreement (:func:`row_access`; the
  agreement's columns, rows, time window and count are enforced by ``access.agreements``);
  every read of non-``public`` rows by someone without a role in the owning organization
  (sysadmins included) goes into the transparency log (:func:`read_is_logged`);
- dataset metadata is visible to everyone for ``public`` and ``restricted`` datasets, to users of
  alliance organizations for ``members`` datasets; drafts only inside their organization;
  deleted datasets only to their organization's admins (to restore them);
- a table version of a ``public`` dataset in which the personal-data scan found something is
  *held* until an admin of the organization decides on it: only the organization's editors
  and admins read it (:func:`sees_version`; see docs/privacy.md);
- a harvested dataset (one with a harvest source) is read-only here: its origin owns it, and
  only the harvester (``Actor.harvester``) creates, changes and deletes it;
- data requests: signed-in users outside the owning organization ask for restricted datasets;
  the requester and the owner's admins read a request, only the requester changes it, only
  the owner's admins (and sysadmins) decide it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from allmende.errors import Conflict, Forbidden, Unauthorized, msg

ROLES = ("admin", "editor", "member")
SCHEMAS_REFUSAL = msg("Nur Systemadministratorinnen und -administratoren können Schemas "
                      "hinzufügen.")
ACCESS_LEVELS = ("public", "members", "restricted")


class Action(StrEnum):
    VIEW_DATASET = "view_dataset"
    READ_ROWS = "read_rows"
    CREATE_DATASET = "create_dataset"
    EDIT_DATASET = "edit_dataset"
    DELETE_DATASET = "delete_dataset"
    RESTORE_DATASET = "restore_dataset"
    CREATE_ORGANIZATION = "create_organization"
    EDIT_ORGANIZATION = "edit_organization"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_USERS = "manage_users"
    MANAGE_SCHEMAS = "manage_schemas"
    READ_JOB = "read_job"
    MANAGE_OWN_ACCOUNT = "manage_own_account"
    MANAGE_HARVEST = "manage_harvest"
    REQUEST_DATA = "request_data"
    READ_REQUEST = "read_request"
    EDIT_REQUEST = "edit_request"
    DECIDE_REQUEST = "decide_request"
    #: a table version held until an admin decides on its personal data (privacy)
    READ_HELD_VERSION = "read_held_version"
    DECIDE_PERSONAL_DATA = "decide_personal_data"
    MANAGE_AGREEMENTS = "manage_agreements"
    #: agreements concern accounts: read by signed-in users (their own, or their
    #: organization's) and by the system
    READ_AGREEMENTS = "read_agreements"


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user with their roles, or an anonymous visitor."""

    user_id: int | None = None
    email: str | None = None
    name: str = ""
    is_sysadmin: bool = False
    roles: Mapping[int, str] = field(default_factory=dict)
    #: The harvesting service mirroring a source: the only writer of harvested datasets.
    harvester: bool = False

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    def role_in(self, organization_id: int) -> str | None:
        return self.roles.get(organization_id)


ANONYMOUS = Actor()
#: The harvesting service: writes the datasets it mirrors into their organization.
HARVESTER = Actor(is_sysadmin=True, name="allmende Harvesting", harvester=True)


class DatasetLike(Protocol):
    organization_id: int
    access_level: str
    draft: bool

    @property
    def deleted_at(self) -> object: ...


@dataclass(frozen=True)
class Visibility:
    """Which datasets an actor may see, in a form both SQL and the search index can apply."""

    everything: bool
    member_of_alliance: bool
    organization_ids: frozenset[int]
    admin_organization_ids: frozenset[int]

    def sees(self, dataset: DatasetLike) -> bool:
        if self.everything:
            return True
        if dataset.deleted_at is not None:
            return dataset.organization_id in self.admin_organization_ids
        if dataset.draft and dataset.organization_id not in self.organization_ids:
            return False
        return dataset.access_level != "members" or self.member_of_alliance


#: The decisions made in the current context, while :func:`audit` collects them.
_decisions: ContextVar[list[str] | None] = ContextVar("allmende_policy_decisions",
                                                      default=None)


@contextmanager
def audit() -> Iterator[list[str]]:
    """Collect every decision the policy makes inside the block (and in threads started
    from it with the context copied, as FastAPI does for handlers): the route audit proves
    with it that every route asks the policy."""
    decisions: list[str] = []
    token = _decisions.set(decisions)
    try:
        yield decisions
    finally:
        _decisions.reset(token)


def _decided(what: str) -> None:
    decisions = _decisions.get()
    if decisions is not None:
        decisions.append(what)


def visibility(actor: Actor) -> Visibility:
    _decided("visibility")
    return Visibility(
        everything=actor.is_sysadmin,
        member_of_alliance=bool(actor.roles),
        organization_ids=frozenset(actor.roles),
        admin_organization_ids=frozenset(o for o, r in actor.roles.items() if r == "admin"),
    )


def _has_role(actor: Actor, organization_id: int, *roles: str) -> bool:
    return actor.is_sysadmin or actor.role_in(organization_id) in roles


def is_allowed(actor: Actor, action: Action, target: object = None) -> bool:
    """Decide one action. ``target`` is the dataset, the organization id or the job it
    concerns."""
    _decided(str(action))
    if harvested_elsewhere(actor, action, target):
        return False
    match action:
        case Action.VIEW_DATASET:
            return visibility(actor).sees(target)  # type: ignore[arg-type]
        case Action.READ_ROWS:
            # restricted rows need an agreement (data requests); until then only the
            # owning organization reads them
            return visibility(actor).sees(target) and (
                target.access_level != "restricted"  # type: ignore[union-attr]
                or _has_role(actor, target.organization_id, *ROLES))  # type: ignore[union-attr]
        case Action.CREATE_DATASET:
            return _has_role(actor, target, "admin", "editor")  # type: ignore[arg-type]
        case Action.READ_HELD_VERSION:
            return _has_role(actor, target.organization_id, "admin", "editor")  # type: ignore[union-attr]
        case Action.DECIDE_PERSONAL_DATA:
            return _has_role(actor, target.organization_id, "admin")  # type: ignore[union-attr]
        case Action.EDIT_DATASET:
            return _has_role(actor, target.organization_id, "admin", "editor")  # type: ignore[union-attr]
        case Action.DELETE_DATASET | Action.RESTORE_DATASET:
            return _has_role(actor, target.organization_id, "admin")  # type: ignore[union-attr]
        case (Action.EDIT_ORGANIZATION | Action.MANAGE_MEMBERS | Action.MANAGE_HARVEST
              | Action.MANAGE_AGREEMENTS):
            return _has_role(actor, target, "admin")  # type: ignore[arg-type]
        case Action.CREATE_ORGANIZATION | Action.MANAGE_USERS | Action.MANAGE_SCHEMAS:
            return actor.is_sysadmin
        case Action.READ_JOB:
            # a job is its creator's and its organization's admins'; jobs the platform queued
            # for nobody in particular only sysadmins read
            return actor.is_sysadmin or (actor.is_authenticated and (
                target.created_by_id == actor.user_id  # type: ignore[union-attr]
                or actor.role_in(target.organization_id) == "admin"))  # type: ignore[union-attr,arg-type]
        case Action.MANAGE_OWN_ACCOUNT:
            return actor.is_authenticated
        case Action.REQUEST_DATA | Action.READ_REQUEST | Action.EDIT_REQUEST \
                | Action.DECIDE_REQUEST:
            return _may_on_request(actor, action, target)
        case Action.READ_AGREEMENTS:
            return actor.is_authenticated or actor.is_sysadmin
    raise ValueError(f"unknown action {action}")


def _may_on_request(actor: Actor, action: Action, target: object) -> bool:
    """Data requests: anyone signed in asks for a restricted dataset they can see, except its
    own organization (it reads the rows already); the requester and the owner's admins read a
    request; only the requester changes it; only the owner's admins decide (``target``: the
    owning organization's id)."""
    if not actor.is_authenticated:
        return False
    match action:
        case Action.REQUEST_DATA:
            return (visibility(actor).sees(target)  # type: ignore[arg-type]
                    and target.access_level == "restricted"  # type: ignore[union-attr]
                    and actor.role_in(target.organization_id) is None)  # type: ignore[union-attr]
        case Action.READ_REQUEST:
            return target.requester_id == actor.user_id or _has_role(  # type: ignore[union-attr]
                actor, target.organization_id, "admin")  # type: ignore[union-attr]
        case Action.EDIT_REQUEST:
            return target.requester_id == actor.user_id  # type: ignore[union-attr]
    return _has_role(actor, target, "admin")  # type: ignore[arg-type]


class RowAccess(StrEnum):
    """How an actor may read a dataset's rows."""

    FULL = "full"
    #: only under an agreement (a restricted dataset, someone outside its organization)
    AGREEMENT = "agreement"
    NONE = "none"


def row_access(actor: Actor, dataset: DatasetLike) -> RowAccess:
    """Whether the actor reads the rows outright, only under an agreement, or not at all."""
    if is_allowed(actor, Action.READ_ROWS, dataset):
        return RowAccess.FULL
    if actor.is_authenticated and dataset.access_level == "restricted" \
            and visibility(actor).sees(dataset):
        return RowAccess.AGREEMENT
    return RowAccess.NONE


def read_is_logged(actor: Actor, dataset: DatasetLike) -> bool:
    """Whether a read of the dataset's rows goes into the transparency log: every read of
    non-public rows by someone without a role in the owning organization (sysadmins and
    agreement holders included); the organization's own reads are not logged."""
    return dataset.access_level != "public" and actor.role_in(dataset.organization_id) is None


#: Changes to a dataset: refused for harvested datasets unless the harvester makes them.
DATASET_WRITES = frozenset({Action.EDIT_DATASET, Action.DELETE_DATASET, Action.RESTORE_DATASET})


def harvested_elsewhere(actor: Actor, action: Action, target: object) -> bool:
    """A change to a harvested dataset by anyone but the harvester: its origin owns it."""
    return (action in DATASET_WRITES and not actor.harvester
            and getattr(target, "harvest_source_id", None) is not None)


def authorize(actor: Actor, action: Action, target: object = None,
              refusal: str | None = None) -> None:
    """Raise :class:`Unauthorized` (anonymous) or :class:`Forbidden` (with ``refusal`` as its
    message, when given) unless allowed; :class:`Conflict` for a change to a harvested
    dataset by someone who could change it were it not harvested."""
    if is_allowed(actor, action, target):
        return
    if harvested_elsewhere(actor, action, target) \
            and is_allowed(replace(actor, harvester=True), action, target):
        raise Conflict(msg(
            "Der Datensatz „{name}“ wird aus einer Harvest-Quelle übernommen und ist hier "
            "schreibgeschützt; ändern Sie ihn dort, wo er herkommt: {origin}",
            name=getattr(target, "name", ""), origin=getattr(target, "origin_url", None) or "–"),
            "harvested_dataset")
    if not actor.is_authenticated:
        raise Unauthorized()
    raise Forbidden(refusal) if refusal else Forbidden()


#: Privacy states of a version that keep it held while its dataset is public (privacy.held).
HELD_STATES = frozenset({"pending", "replaced"})


def sees_version(actor: Actor, dataset: DatasetLike, privacy_status: str | None) -> bool:
    """Whether the actor may read the rows of a version in this privacy state (its dataset's
    rows being readable): a held version only the organization's editors and admins."""
    held = dataset.access_level == "public" and privacy_status in HELD_STATES
    return not held or is_allowed(actor, Action.READ_HELD_VERSION, dataset)
