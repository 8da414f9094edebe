"""An app whose failures carry its database password (a careless handler, a crashing import).

The password is the one in the password file its ``DATABASE_URL`` names, as an app handed
the embedded server's app URL could read it; whatever the worker stores or logs must not
show it.
"""

from __future__ import annotations

import os

from psycopg.conninfo import conninfo_to_dict

from spectral_deploy import Event, Handlers

handlers = Handlers()


def password() -> str:
    """The app role's password, from the password file of ``DATABASE_URL``."""
    passfile = str(conninfo_to_dict(os.environ["DATABASE_URL"])["passfile"])
    with open(passfile, encoding="utf-8") as handle:  # noqa: PTH123
        return handle.readline().rstrip("\n").rsplit(":", 1)[1]


@handlers.on("leak")
def leak(event: Event) -> None:
    """Fail with the password raw and inside a URL, in the message and the traceback."""
    secret = password()
    raise RuntimeError(f"cannot reach postgresql://spectral_app:{secret}@db/app with {secret}")


def broken() -> Handlers:
    """A handlers factory that crashes at load time, showing the password."""
    raise RuntimeError(f"configuration failed: DATABASE_PASSWORD={password()}")
