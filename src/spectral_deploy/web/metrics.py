"""The snapshot as Prometheus metrics, in the text exposition format 0.0.4 (pure).

Every metric is a gauge named ``spectral_...`` with its unit in the name; a figure that is
not known (a source that could not be read, no backup yet) is left out rather than given
as 0, so an alert on it does not fire on a guess. ``spectral_source_up`` says which sources
answered. What is observed as down is 0, never left out: every slot's health (a stopped
slot is 0), and the live generation (observed where the CNAME points: 0 when the record's
slot runs nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from spectral_deploy.cutover.observe import FlipState
from spectral_deploy.cutover.phase import Phase
from spectral_deploy.providers.base import Color
from spectral_deploy.web.model import BackupState, Snapshot

__all__ = ["CONTENT_TYPE", "METRICS", "render_metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SOURCES = ("database", "dns", "hosting", "backup")

# name -> help: the whole catalog, in output order (docs/status.md lists the same)
METRICS: dict[str, str] = {
    "spectral_source_up": "Whether a source of the snapshot answered (1) or not (0).",
    "spectral_live_generation": "The generation running where the CNAME points, observed "
    "(0: nothing runs there).",
    "spectral_recorded_generation": "The generation the ledger records as active.",
    "spectral_live_serving": "Whether the slot the CNAME points at runs and passes its health "
    "check (1) or not (0).",
    "spectral_live_color": "1 for the slot the CNAME points at, 0 for the other.",
    "spectral_slot_generation": "The generation each slot runs.",
    "spectral_slot_healthy": "Whether the slot's health check passed (1) or not (0: failing or "
    "stopped).",
    "spectral_outbox_backlog_rows": "Unfinished outbox rows (pending and in flight) per "
    "generation.",
    "spectral_outbox_in_flight_rows": "Outbox rows claimed under a lease per generation.",
    "spectral_outbox_oldest_pending_age_seconds": "Age of the oldest unfinished outbox row "
    "per generation.",
    "spectral_outbox_dead_rows": "Dead-lettered outbox rows per generation.",
    "spectral_outbox_stranded": "1 when a generation has unfinished rows and no live worker.",
    "spectral_workers": "Registered workers per generation and state (stale: heartbeat stopped).",
    "spectral_deploy_id": "The id of the open deploy, or of the latest one.",
    "spectral_deploy_step": "Steps done (0-11) of that deploy.",
    "spectral_deploy_phase": "1 for that deploy's phase, 0 for the others.",
    "spectral_deploy_hold_remaining_seconds": "Seconds left in the hold window.",
    "spectral_deploy_flip_unrecorded": "1 when the open deploy's green receives traffic but "
    "the deploy never recorded the flip.",
    "spectral_rollback_in_progress": "1 while a rollback is open, 0 otherwise.",
    "spectral_backup_last_age_seconds": "Age of the latest backup in the configured storage.",
    "spectral_backup_last_verified": "Whether a restore of the latest backup was verified.",
}

Labels = Mapping[str, str]


@dataclass
class _Family:
    name: str
    samples: list[tuple[Labels, float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> None:
        self.samples.append((labels, value))


def render_metrics(snapshot: Snapshot | None) -> str:
    """The exposition; with no snapshot (the database did not answer) only the sources."""
    families = {name: _Family(name) for name in METRICS}
    for source in SOURCES:
        up = snapshot is not None and source not in snapshot.unknown
        families["spectral_source_up"].add(1 if up else 0, source=source)
    if snapshot is not None:
        _live(families, snapshot)
        _outbox(families, snapshot)
        _deploy(families, snapshot)
        _backup(families, snapshot)
    return _render(families)


def _live(families: Mapping[str, _Family], snapshot: Snapshot) -> None:
    live = snapshot.live
    if live.observed:
        families["spectral_live_generation"].add(live.generation or 0)
        if live.serving is not None:
            families["spectral_live_serving"].add(1 if live.serving else 0)
    elif live.generation is not None and "dns" not in snapshot.unknown:
        families["spectral_live_generation"].add(live.generation)
    if live.recorded_generation is not None:
        families["spectral_recorded_generation"].add(live.recorded_generation)
    if "dns" not in snapshot.unknown:
        for color in Color:
            families["spectral_live_color"].add(1 if live.color is color else 0, color=str(color))
    for slot in snapshot.slots:
        if slot.generation is not None:
            families["spectral_slot_generation"].add(slot.generation, color=str(slot.color))
        if slot.status == "unknown":
            continue  # the hosting provider did not answer: spectral_source_up says so
        families["spectral_slot_healthy"].add(1 if slot.healthy else 0, color=str(slot.color))


def _outbox(families: Mapping[str, _Family], snapshot: Snapshot) -> None:
    for g in snapshot.outbox.generations:
        generation = str(g.generation)
        families["spectral_outbox_backlog_rows"].add(g.pending + g.in_flight, generation=generation)
        families["spectral_outbox_in_flight_rows"].add(g.in_flight, generation=generation)
        if g.oldest_pending_age_seconds is not None:
            families["spectral_outbox_oldest_pending_age_seconds"].add(
                g.oldest_pending_age_seconds, generation=generation
            )
        families["spectral_outbox_dead_rows"].add(g.dead, generation=generation)
        families["spectral_outbox_stranded"].add(1 if g.stranded else 0, generation=generation)
    for count in snapshot.workers:
        families["spectral_workers"].add(
            count.count, generation=str(count.generation), state=count.state
        )


def _deploy(families: Mapping[str, _Family], snapshot: Snapshot) -> None:
    families["spectral_rollback_in_progress"].add(1 if snapshot.rollback else 0)
    view = snapshot.deploy
    if view is None:
        return
    if not view.deploy.finished:
        unrecorded = view.flip is FlipState.UNRECORDED
        families["spectral_deploy_flip_unrecorded"].add(1 if unrecorded else 0)
    families["spectral_deploy_id"].add(view.deploy.id)
    families["spectral_deploy_step"].add(view.deploy.step)
    for phase in Phase:
        families["spectral_deploy_phase"].add(1 if phase is view.phase else 0, phase=str(phase))
    left = view.hold_seconds_left(snapshot.taken_at)
    if left is not None:
        families["spectral_deploy_hold_remaining_seconds"].add(left)


def _backup(families: Mapping[str, _Family], snapshot: Snapshot) -> None:
    backup = snapshot.backup
    age = backup.age_seconds(snapshot.taken_at)
    if age is not None:
        families["spectral_backup_last_age_seconds"].add(age)
    if backup.state not in (BackupState.NONE, BackupState.UNKNOWN):
        verified = 1 if backup.state is BackupState.VERIFIED else 0
        families["spectral_backup_last_verified"].add(verified)


def _render(families: Mapping[str, _Family]) -> str:
    lines: list[str] = []
    for name, family in families.items():
        if not family.samples:
            continue
        lines.append(f"# HELP {name} {_escape_help(METRICS[name])}")
        lines.append(f"# TYPE {name} gauge")
        for labels, value in family.samples:
            lines.append(f"{name}{_labels(labels)} {_value(value)}")
    return "\n".join(lines) + "\n"


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape_label(value)}"' for key, value in labels.items())
    return "{" + inner + "}"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _value(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return repr(round(float(value), 3))
