"""REST API v1: thin routers over the catalog and access services."""
