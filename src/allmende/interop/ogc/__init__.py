"""OGC API Features (Part 1: core, GeoJSON, HTML, OpenAPI 3.0; Part 2: coordinate reference
systems) at ``/ogc``: one collection per table with geometries (the latest version), read
through the table reader with the access policy inside. See docs/api.md and
docs/interfaces.md."""
