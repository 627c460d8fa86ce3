"""The personal-data guard: detection at ingest (``detect``), held versions (``held``), the
admins' decisions (``decisions``) and small-cell suppression (``suppression``).
See docs/privacy.md.

Events for the transparency log (``allmende.transparency.log.append``, in the transaction that
records the decision, ``decisions._record``; ``decisions.decide`` also returns the event as
``DecisionResult.event``):

- ``privacy.decision`` — an admin decided on a held version. Fields: ``type``,
  ``organization`` (slug), ``dataset`` (UUID), ``resource`` (id), ``version`` (the held
  version), ``published_version`` (the version now published: a new one, or the held one when
  every column was confirmed), ``columns``: ``[{"column", "kind" (as detected, null if the
  admin added the column), "confidence", "action" (drop hash truncate generalize confirm),
  "parameters" ({"keep"|"digits"|"step"}), "reason"}]``; ``actor``: the pseudonym of the
  deciding admin (``log.pseudonym(session, organization_id, user_id)``) when a person decided.
  Never a cell value: findings carry column names, kinds and confidences only.
"""
