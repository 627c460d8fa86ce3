"""The demo region: Ruhr municipalities, a regional body, demo users and datasets."""
