"""Organizations, datasets, resources, their history, and search."""
