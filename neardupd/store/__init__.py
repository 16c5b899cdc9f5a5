"""The index: the only package that knows SQL (today SQLite; nothing above it should know which).

* :mod:`~neardupd.store.connection`: a connection set up as neardupd uses it, and SQLite's errors
  translated into :class:`~neardupd.errors.StoreError` with what to check;
* :mod:`~neardupd.store.sqlite`: migrations, transactions and the index's tables (files,
  signatures, hashes, matches, errors);
* :mod:`~neardupd.store.decisions`: a person's decisions (keep, discard, not a duplicate), keyed on
  content digests;
* :mod:`~neardupd.store.work`: what keeps the daemon's promises: durable pending work, quarantine,
  held (missing) rows and the roots' health.
"""

from neardupd.store.decisions import Decision
from neardupd.store.rows import (
    FileFacts,
    FileRow,
    HashRows,
    PairRow,
    PendingRow,
    RootRow,
    UnderRow,
    display_path,
    iso_time,
    path_fields,
)
from neardupd.store.sqlite import load_migrations, migrations_dir
from neardupd.store.work import Store, open_store

__all__ = ["Decision", "FileFacts", "FileRow", "HashRows", "PairRow", "PendingRow", "RootRow", "Store", "UnderRow",
           "display_path", "iso_time", "load_migrations", "migrations_dir", "open_store", "path_fields"]
