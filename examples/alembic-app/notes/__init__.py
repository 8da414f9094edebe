"""A small Flask + SQLAlchemy + Alembic app, adopted by spectral-deploy (see README.md)."""

VERSION = "1.0.0"
