"""/metrics: the snapshot in valid Prometheus text format, and the status JSON shape (pure)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import cast

from prometheus_client.parser import text_string_to_metric_families

from spectral_deploy.outbox.store import WorkerState
from spectral_deploy.providers.base import Color
from spectral_deploy.web.metrics import METRICS, render_metrics
from spectral_deploy.web.model import BackupState, BackupView, Slot, Snapshot
from tests.unit.statuskit import LIVE, NOW, backlog, deploy_view, snapshot, worker


def parse(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """name -> {sorted labels: value}, checking every family is a documented gauge."""
    families: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge", family.name
        assert family.documentation == METRICS[family.name]
        families[family.name] = {
            tuple(sorted(sample.labels.items())): sample.value for sample in family.samples
        }
    return families


def busy() -> Snapshot:
    return snapshot(
        deploy=deploy_view(step=11, flipped_at=NOW, hold_until=NOW + timedelta(seconds=90)),
        generations=(
            backlog(1, pending=7, in_flight=3, workers=2, active=True),
            backlog(2, pending=40, dead=2),
        ),
        workers=(worker(1), worker(1), worker(2, "running", live=False)),
    )


def test_the_exposition_parses_and_carries_the_figures() -> None:
    """Backlog, oldest age, dead rows and stranded per generation, workers per generation and
    state, live color, deploy step and phase, hold window and backup age all parse back."""
    text = render_metrics(busy())
    assert text.endswith("\n")
    metrics = parse(text)
    assert metrics["spectral_outbox_backlog_rows"] == {
        (("generation", "1"),): 10,
        (("generation", "2"),): 40,
    }
    assert metrics["spectral_outbox_oldest_pending_age_seconds"][(("generation", "2"),)] == 42.5
    assert metrics["spectral_outbox_dead_rows"][(("generation", "2"),)] == 2
    assert metrics["spectral_outbox_stranded"] == {
        (("generation", "1"),): 0,
        (("generation", "2"),): 1,
    }
    assert metrics["spectral_workers"] == {
        (("generation", "1"), ("state", "running")): 2,
        (("generation", "2"), ("state", "stale")): 1,
    }
    assert metrics["spectral_live_color"] == {(("color", "blue"),): 1, (("color", "green"),): 0}
    assert metrics["spectral_live_generation"] == {(): 1}
    assert metrics["spectral_deploy_step"] == {(): 11}
    phases = metrics["spectral_deploy_phase"]
    assert phases[(("phase", "HoldWindow"),)] == 1 and sum(phases.values()) == 1
    assert metrics["spectral_deploy_hold_remaining_seconds"] == {(): 90}
    assert metrics["spectral_backup_last_age_seconds"] == {(): 9 * 3600}
    assert metrics["spectral_backup_last_verified"] == {(): 1}
    assert all(name.startswith("spectral_") for name in metrics)


def test_unknown_figures_are_left_out_not_zero() -> None:
    """With the DNS and backup storage unreadable, no live color nor backup age is made up,
    and spectral_source_up says which sources failed."""
    snap = snapshot(
        unknown={"dns": "timeout", "backup": "403"},
        backup=BackupView(BackupState.UNKNOWN, "gs://b", error="403"),
    )
    metrics = parse(render_metrics(snap))
    assert "spectral_live_color" not in metrics
    assert "spectral_backup_last_age_seconds" not in metrics
    assert metrics["spectral_source_up"] == {
        (("source", "backup"),): 0,
        (("source", "database"),): 1,
        (("source", "dns"),): 0,
        (("source", "hosting"),): 1,
    }


def test_without_a_snapshot_only_the_sources_are_reported_down() -> None:
    """The database did not answer: every source reads 0 and nothing else is exposed."""
    metrics = parse(render_metrics(None))
    assert list(metrics) == ["spectral_source_up"]
    assert set(metrics["spectral_source_up"].values()) == {0}


def test_label_values_are_escaped() -> None:
    """A quote, a backslash and a newline in a label value survive the round trip."""
    odd = 'odd "state" \\ with\nnewline'
    # worker states are a closed set (WorkerState): the odd value is forced in to reach the escaper
    odd_worker = replace(worker(1), state=cast(WorkerState, odd))
    metrics = parse(render_metrics(snapshot(workers=(odd_worker,))))
    assert metrics["spectral_workers"] == {(("generation", "1"), ("state", odd)): 1}


def test_the_status_json_has_the_documented_shape() -> None:
    """The top-level keys and the deploy's computed fields that README documents."""
    shape = busy().as_json()
    assert list(shape) == [
        "taken_at",
        "live",
        "slots",
        "deploy",
        "outbox",
        "workers",
        "backup",
        "next",
        "unknown",
        "rollback",
    ]
    assert shape["live"]["color"] == "blue"
    assert shape["outbox"]["stranded"] == [2]
    assert shape["deploy"]["phase"] == "HoldWindow"
    assert shape["deploy"]["hold_seconds_left"] == 90
    assert [s["state"] for s in shape["deploy"]["steps"]] == ["done"] * 11
    assert shape["next"][0] == {
        "level": "critical",
        "reason": "generation 2 is stranded: 40 row(s) and no live worker",
        "commands": ["spectral-deploy drain --target-generation 2"],
    }


def test_the_readme_lists_every_metric() -> None:
    """The docs' metrics table (docs/status.md) names exactly the metrics /metrics can expose."""
    page = Path(__file__).resolve().parents[2] / "docs" / "status.md"
    section = page.read_text(encoding="utf-8").split("### Metrics", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `(spectral_\w+)` \|", section, re.MULTILINE)
    assert listed == list(METRICS)


def test_every_slot_s_health_is_exported_and_a_stopped_one_is_0() -> None:
    """A stopped slot is down, not unknown: its health is 0, never left out."""
    metrics = parse(render_metrics(snapshot()))
    assert metrics["spectral_slot_healthy"] == {(("color", "blue"),): 1, (("color", "green"),): 0}


def test_the_live_generation_is_the_observed_one() -> None:
    """The record's slot runs generation 2 while the ledger says 1: both are exported; a record
    at a slot that runs nothing is generation 0 and not serving."""
    running = (
        Slot(Color.BLUE, False, "running", 1, "v1.0.0", 2, True, "HTTP 200"),
        Slot(Color.GREEN, True, "running", 2, "v1.1.0", 2, True, "HTTP 200"),
    )
    observed = parse(
        render_metrics(snapshot(live=replace(LIVE, color=Color.GREEN, generation=2), slots=running))
    )
    assert observed["spectral_live_generation"] == {(): 2}
    assert observed["spectral_recorded_generation"] == {(): 1}
    dead = parse(
        render_metrics(
            snapshot(live=replace(LIVE, color=Color.GREEN, generation=None, serving=False))
        )
    )
    assert dead["spectral_live_generation"] == {(): 0}
    assert dead["spectral_live_serving"] == {(): 0}


def test_a_slot_the_hosting_provider_cannot_tell_is_left_out() -> None:
    """Unknown is not down: a slot whose state could not be read has no health sample."""
    unknown = (
        Slot(Color.BLUE, True, "unknown", health="timed out"),
        Slot(Color.GREEN, False, "unknown", health="timed out"),
    )
    snap = snapshot(slots=unknown, unknown={"hosting": "timed out"})
    assert "spectral_slot_healthy" not in parse(render_metrics(snap))
