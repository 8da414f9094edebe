"""Status at a glance: one snapshot of a project, the terminal report, the dashboard, /metrics.

``snapshot`` reads what is live, the deploy, workers, outbox backlog and the last backup;
``advice`` decides the next commands from it (pure); ``metrics`` renders it in the
Prometheus text format (pure); ``server`` serves the read-only dashboard page, its JSON
endpoints and ``/metrics`` on a loopback address.
"""
