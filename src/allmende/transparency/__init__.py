"""The transparency log (Transparenzprotokoll): an append-only Merkle log (RFC 6962 hashing)
of data requests, decisions, agreements and every access to non-public data, with signed
checkpoints (C2SP tlog-checkpoint), proofs, a public API (``/log/v1``), public pages and a
verifier (``allmende log verify``) that any municipality can run as a witness.

- ``log``: ``append(session, event) -> int``, ``pseudonym(session, organization_id,
  user_id)``, ``erase_pseudonym_key``, entries and proofs;
- ``merkle``: the hashing, proofs and their verification, without storage;
- ``checkpoints``: the signing key, signed notes, publishing checkpoints;
- ``verify``: the witness (reads a node over HTTP, keeps its state in a file);
- ``app``: the API sub-application.

Events are JSON objects; the leaf is their RFC 8785 canonical JSON. Never personal data in
clear: people appear as ``pseudonym(...)`` of their organization. Every event has ``type``,
``time`` (added on append, UTC) and, where there is one, ``organization`` (the slug the event
belongs to: the dataset owner's) and ``dataset`` (its UUID). The events the other parts of
issue 12 log when they are wired (fields beyond those):

=========================  ==============================================================
``request.submitted``      ``request`` (id), ``requester_organization`` (slug or null),
                           ``requester`` (pseudonym), ``purpose`` (code), ``legal_basis``
``request.decided``        ``request``, ``decision`` (approved|rejected|needs_info),
                           ``decided_by`` (pseudonym, owner organization)
``request.withdrawn``      ``request``
``agreement.created``      ``agreement`` (uid), ``request`` (id or null), ``holder``
                           (pseudonym), ``purpose``, ``valid_until``, ``max_count``
``agreement.expired``      the same but ``max_count`` (once, by the periodic sweep or the
                           first read refused after ``valid_until``)
``agreement.exhausted``    ``agreement``, ``request``, ``holder``, ``purpose``
``agreement.revoked``      the same (the reason stays with the agreement: it may name
                           people)
``access.rows``            ``reader_organization`` (slug or null), ``reader`` (pseudonym in
                           the dataset owner's organization), ``version``, ``interface``
                           (api|ckan|ogc|download|ui), ``agreement`` (uid or null),
                           ``purpose``, ``rows`` (how many rows left)
``privacy.decision``       ``resource``, ``version``, ``column``, ``kind``, ``decision``
                           (drop|hash|truncate|generalize|confirm), ``decided_by``
                           (pseudonym)
=========================  ==============================================================

The owning organization's own reads are not logged; everybody else's reads of non-public
data are.
"""
