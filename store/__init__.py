"""Persistence for Concord: the only package that imports duckdb.

``Store`` owns a database file (one writer thread, cursors for reads); the modules beside it are
plain functions over a ``Store``: ``importer``, ``queue``, ``annotations``, ``users``, ``runs``...
"""
from store.db import DEFAULT_DB, Store, StoreClosed, open_store

__all__ = ["DEFAULT_DB", "Store", "StoreClosed", "open_store"]
