"""WSGI entry point: ``waitress-serve --threads=8 wsgi:app``."""

from callgoose import create_app

app = create_app()
