"""DCAT-AP.de 3.0: the catalog as Turtle, RDF/XML and JSON-LD (see app.py)."""
