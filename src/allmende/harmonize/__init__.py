"""Harmonize: shared schemas, mappings, validation with quality reports, regional consolidation.

- ``schemas/`` – the shipped Table Schemas (Frictionless JSON plus a ``geometry`` type);
- ``registry`` – finding, loading and checking schemas;
- ``validate`` – Frictionless-exact validation as SQL over DuckDB, quality report;
- ``mapping`` / ``suggest`` – mapping a resource's columns onto a schema;
- ``consolidate`` / ``service`` – the regional tables and their persistence.
"""
