"""The transparency log (Transparenzprotokoll): an append-only Merkle log (RFC 6962 hashing)
of data requests, decisions, agreements and every access to non-public data, with signed
checkpoints (C2SP tlog-checkpoint), proofs, a public API (``/log/v1``), public pages and a
verifier (``allmende log verify``) that any municipality can run as a witness.

- ``log``: ``append(session, event) -> int``, ``pseudonym(session, organization_id,
  user_id)``, ``erase_pseudonym_key``, entries and proofs;
- ``reads``: the ``access.rows`` event of each logged read, appended when the transaction
  that counts it commits;
- ``merkle``: the hashing, proofs and their verification, without storage;
- ``checkpoints``: the signing key, signed notes, publishing checkpoints;
- ``verify``: the witness (reads a node over HTTP, keeps its state in a file);
- ``app``: the API sub-application.

Events are JSON objects; the leaf is their RFC 8785 canonical JSON. Never personal data in
clear: people appear as ``pseudonym(...)`` in the dataset owner's organization. Every event
has ``type``, ``time`` (added on append, UTC), ``organization`` (the slug of the dataset's
owner) and ``dataset`` (its UUID). The fields beyond those, exactly as they are appended:

=========================  ==============================================================
``request.submitted``      ``request`` (id), ``purpose`` (code), ``legal_basis`` (code),
                           ``requester`` (pseudonym) — ``access.requests._event``
``request.needs_info``     the same (the owner asked for information)
``request.answered``       the same (the requester answered)
``request.withdrawn``      the same
``request.decided``        the same and ``decision`` (approved|rejected)
``agreement.created``      ``agreement`` (uid), ``purpose`` (code), ``request`` (id or
                           null), ``holder`` (pseudonym), ``max_count`` (or null),
                           ``valid_until`` (ISO 8601) — ``access.agreements._logged``
``agreement.revoked``      ``agreement``, ``purpose``, ``request``, ``holder`` (the reason
                           stays with the agreement: it may name people)
``agreement.exhausted``    ``agreement``, ``purpose``, ``request``, ``holder`` (appended with
                           the access that used the last one, before its ``access.rows``)
``agreement.expired``      ``agreement``, ``purpose``, ``request``, ``holder``,
                           ``valid_until`` (by the periodic sweep or the first read refused
                           after ``valid_until``)
``access.refused``         ``agreement``, ``purpose``, ``request``, ``holder``, ``reason``
                           (the refusal's code: agreement_expired|agreement_exhausted|
                           agreement_revoked|agreement_not_yet_valid, or column_not_agreed|
                           agreement_filter_unusable for a request beyond the agreement),
                           recorded after the refused request rolled back —
                           ``access.agreements.record_refusal``
``access.rows``            ``resource`` (id), ``version``, ``interface`` (see below),
                           ``agreement`` (uid, or null for a ``members`` dataset or a
                           sysadmin), ``purpose`` (the agreement's code or null), ``reader``
                           (pseudonym; null for the system), ``reader_organization`` (sorted
                           slugs of the reader's organizations, null for none), ``sysadmin``
                           (true, only when the reader is one), ``rows`` — ``reads``
``privacy.decision``       ``resource``, ``version`` (held), ``published_version``,
                           ``columns`` ([{column, kind, confidence, action (drop|hash|
                           truncate|generalize|confirm), parameters, reason_given (the
                           reason stays with the decision: it may name people)}]),
                           ``actor`` (pseudonym, when a person decided) —
                           ``privacy.decisions``
=========================  ==============================================================

``access.rows`` is one answer to a read of non-public rows (``members`` or ``restricted``) by
anyone without a role in the owning organization, sysadmins included; the owning
organization's own reads and reads of public rows are not logged. It is appended in the
transaction that counts the access under an agreement, so the count and the log agree.
``interface`` and ``rows`` (how many rows the answer held):

- ``rows``: a page of the data API — the rows on the page;
- ``download``: the data API's ``format=…`` — the rows of the file (counted before it
  streams);
- ``distinct`` / ``aggregate``: the values or groups of the answer (each a row of it; the
  rows they were computed from are not counted);
- ``datastore``: CKAN's ``datastore_search`` — the records returned;
- ``ogc``: OGC API Features — the features of an items page, 1 for one item, 0 for a
  collection's document (its extent and time range only);
- ``ui``: a web page's preview — the rows on it (the map and the downloads it links to are
  requests of their own).

``rows`` is null only if an interface did not report its answer (a mistake; the tests check
every interface).
"""
