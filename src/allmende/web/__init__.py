"""HTTP interfaces: the REST API, the web UI and (later) the standard adapters."""
