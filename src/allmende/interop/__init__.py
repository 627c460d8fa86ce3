"""Open interfaces: each one its own package (``ckan/``, ``ogc/``; DCAT and harvesting to
come), mounted as its own sub-application with its own error format, standing on the same
seam: catalog records (``allmende.catalog.records``), the table reader
(``allmende.tables.reader``), absolute links from ``ALLMENDE_BASE_URL`` (:mod:`.links`) and
the registry of mounts (:mod:`.registry`). See docs/interfaces.md."""
