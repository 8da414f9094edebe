"""Backups and disaster recovery: ``pg_dump`` -> age -> object storage, verified restores.

``pipeline`` streams a dump through age encryption into storage in constant memory;
``manifest`` is what is stored beside each object (the catalog is the storage);
``restore`` streams it back into a scratch database (``verify``) or a target;
``retention`` chooses what ``prune`` keeps (pure); ``storage`` holds the backends.
"""
