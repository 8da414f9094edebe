"""The outbox commands as an operator runs them."""

from __future__ import annotations

import json

import psycopg

from spectral_deploy import emit
from spectral_deploy.ledger import generations
from spectral_deploy.ledger.generations import GenerationState
from tests.acceptance.conftest import Project


def allocate_up_to(project: Project, generation: int) -> None:
    """Allocate generations until ``generation`` exists (emit and workers refuse others)."""
    assert project.run("db", "init").returncode == 0
    url = project.run("db", "url").stdout.strip()
    with psycopg.connect(url) as conn:
        while generations.get(conn, "spectral", generation) is None:
            generations.allocate(conn, "spectral", tag="test")


def emit_rows(project: Project, rows: list[tuple[str, int, str]]) -> list[int]:
    """Emit (topic, generation, state) rows straight into the project's database."""
    allocate_up_to(project, max(generation for _, generation, _ in rows))
    url = project.run("db", "url").stdout.strip()
    ids = []
    with psycopg.connect(url) as conn:
        for topic, generation, state in rows:
            row_id = emit(conn, topic, {"n": 1}, generation=generation)
            if state == "dead":
                conn.execute(
                    "UPDATE spectral.outbox SET state = 'dead', attempt = 10, dead_at = now(), "
                    "last_error = 'RuntimeError: boom' WHERE id = %s",
                    (row_id,),
                )
            ids.append(row_id)
        conn.commit()
    return ids


def test_status_json_shape_and_stranded_generation(project: Project) -> None:
    """`outbox status --format json` has the documented shape; no worker means stranded."""
    assert project.run("db", "init").returncode == 0
    emit_rows(project, [("order.created", 3, "pending"), ("order.created", 3, "pending")])
    result = project.run("outbox", "status", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"generations", "workers"}
    [gen3] = [g for g in report["generations"] if g["generation"] == 3]
    assert {k: gen3[k] for k in ("pending", "in_flight", "dead", "live_workers", "stranded")} == {
        "pending": 2,
        "in_flight": 0,
        "dead": 0,
        "live_workers": 0,
        "stranded": True,
    }
    assert gen3["oldest_pending_age_seconds"] >= 0
    text = project.run("outbox", "status")
    assert "STRANDED" in text.stdout
    assert "spectral-deploy drain --target-generation 3" in text.stdout


def test_dead_letters_list_retry_discard_with_audit(project: Project) -> None:
    """list shows the error; retry makes rows pending; discard deletes and is in the ledger."""
    first, second = emit_rows(project, [("a.topic", 4, "dead"), ("b.topic", 4, "dead")])
    listed = json.loads(project.run("outbox", "dead", "list", "--format", "json").stdout)
    assert {row["id"] for row in listed["dead"]} >= {first, second}
    assert listed["dead"][-1]["last_error"] == "RuntimeError: boom"

    refused = project.run("outbox", "dead", "retry")
    assert refused.returncode == 2
    assert "say which dead rows" in refused.stderr

    retried = project.run("outbox", "dead", "retry", "--id", str(first))
    assert retried.returncode == 0
    assert "1 dead row(s) are pending again" in retried.stdout

    discarded = project.run("outbox", "dead", "discard", "--topic", "b.topic", "--yes")
    assert discarded.returncode == 0, discarded.stderr
    ledger = json.loads(
        project.run("ledger", "show", "--kind", "outbox", "--format", "json").stdout
    )
    actions = [(e["action"], e["details"]["count"]) for e in ledger["entries"]]
    assert ("dead-retry", 1) in actions
    assert ("dead-discard", 1) in actions
    discard_entry = next(e for e in ledger["entries"] if e["action"] == "dead-discard")
    assert discard_entry["details"]["by_topic"] == {"b.topic": 1}
    assert discard_entry["details"]["ids"] == [str(second)]


def test_worker_without_a_generation_is_a_usage_error(project: Project) -> None:
    """No --generation and no SPECTRAL_GENERATION: exit 2 naming the variable."""
    result = project.run("worker", "--app", "shop.handlers:handlers")
    assert result.returncode == 2
    assert "SPECTRAL_GENERATION" in result.stderr


def test_worker_with_an_unimportable_app(project: Project) -> None:
    """A missing module is exit 2 naming it; the registry records why the worker stopped."""
    allocate_up_to(project, 3)
    result = project.run(
        "worker", "--app", "no_such_app.handlers:handlers", env={"SPECTRAL_GENERATION": "3"}
    )
    assert result.returncode == 2
    assert "cannot import 'no_such_app.handlers'" in result.stderr
    report = json.loads(project.run("outbox", "status", "--format", "json").stdout)
    stopped = [w for w in report["workers"] if w["app"] == "no_such_app.handlers:handlers"]
    assert stopped and stopped[0]["state"] == "stopped"
    assert "cannot import" in stopped[0]["last_error"]


def test_worker_refuses_an_unknown_or_failed_generation(project: Project) -> None:
    """`worker --generation N`: never allocated, or failed (rolled back), is exit 3 naming it
    and --force; with --force it runs (here it then stops at the missing app)."""
    allocate_up_to(project, 5)
    url = project.run("db", "url").stdout.strip()
    with psycopg.connect(url) as conn:
        generations.set_state(conn, "spectral", 5, GenerationState.FAILED)
    app = ("--app", "no_such_app.handlers:handlers")
    unknown = project.run("worker", *app, "--generation", "99")
    assert unknown.returncode == 3, unknown.stderr
    assert "generation 99 was never allocated" in unknown.stderr
    assert "--force" in unknown.stderr
    failed = project.run("worker", *app, "--generation", "5")
    assert failed.returncode == 3, failed.stderr
    assert "generation 5 failed" in failed.stderr
    forced = project.run("worker", *app, "--generation", "99", "--force")
    assert forced.returncode == 2, forced.stderr
    assert "--force: generation 99 was never allocated" in forced.stderr
    assert "cannot import" in forced.stderr


def test_stop_workers_with_no_worker_running(project: Project) -> None:
    """`outbox stop-workers` says when a generation has no running worker to tell."""
    allocate_up_to(project, 4)
    result = project.run("outbox", "stop-workers", "--generation", "4")
    assert result.returncode == 0, result.stderr
    assert "generation 4 has no running worker to tell" in result.stdout
