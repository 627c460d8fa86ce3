"""Harvesting: other portals (CKAN, DCAT catalogs, other allmende nodes) mirrored into an
organization. The service API is in :mod:`allmende.interop.harvest.service`."""
