"""The local sandbox's providers: processes on this machine, a router for the CNAME, git."""
