"""Typed table versions: filtered, sorted, paged, aggregated and exported straight from Parquet."""
