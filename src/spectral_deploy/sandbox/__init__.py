"""The local sandbox: everything on one machine, on the embedded PostgreSQL server."""
