"""``spectral-deploy rollback``: the runbook's decision tree as a planner and an executor."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from spectral_deploy.cli import console
from spectral_deploy.cli.common import OutputFormat, state

if TYPE_CHECKING:
    from collections.abc import Callable

    from spectral_deploy.config import Config
    from spectral_deploy.cutover.orchestrator import Deployer
    from spectral_deploy.db import Database
    from spectral_deploy.notify.send import Delivery
    from spectral_deploy.rollback.facts import Gathered
    from spectral_deploy.rollback.plan import Plan
    from spectral_deploy.rollback.store import RollbackRecord

__all__ = ["app"]

app = typer.Typer(
    help=(
        "Roll back by the runbook's five failure classes: `plan` classifies the situation from "
        "the ledger, the providers and your symptom and prints the steps with their commands; "
        "`run` executes them (recorded, resumable) and sends the communications.\n\n"
        "Example: spectral-deploy rollback plan --symptom behavior"
    ),
    no_args_is_help=True,
)

SymptomOption = Annotated[
    str | None,
    typer.Option(help="What you see: behavior, data, migration or catastrophic."),
]
DeployOption = Annotated[int | None, typer.Option("--deploy", help="The deploy (default: latest).")]
FactsOption = Annotated[
    Path | None,
    typer.Option(
        "--facts",
        help="A JSON file of facts that supplies or overrides what is observed (works when the "
        "database is gone).",
        dir_okay=False,
    ),
]


def _plan(
    config: Config,
    symptom: str | None,
    deploy: int | None,
    facts: Path | None,
    deployer: Deployer | None = None,
    database: Callable[[], Database] | None = None,
) -> tuple[Gathered, Plan]:
    from spectral_deploy.rollback.planner import (
        parse_symptom,
        plan_rollback,
        sources_from_config,
        sources_of,
    )

    return plan_rollback(
        config,
        symptom=parse_symptom(symptom),
        deploy_id=deploy,
        facts_file=facts,
        sources=(
            sources_of(deployer) if deployer is not None else sources_from_config(config, database)
        ),
    )


def _print_plan(gathered: Gathered, plan: Plan) -> None:
    from spectral_deploy.notify.messages import CLASS_NAMES

    label = CLASS_NAMES[plan.failure_class]
    if plan.escalated_from is not None:
        label += f" (escalated from {CLASS_NAMES[plan.escalated_from]})"
    console.info(label)
    console.info("why:")
    for reason in plan.reasons:
        console.info(f"  - {reason}")
    for note in gathered.notes:
        console.info(f"  (observed: {note})")
    console.info("steps:")
    for number, step in enumerate(plan.steps, 1):
        who = "" if step.automatic else "  [you]"
        console.info(f"  {number}. {step.title}{who}")
        console.info(f"       $ {step.command}")


@app.command()
def plan(
    ctx: typer.Context,
    symptom: SymptomOption = None,
    deploy: DeployOption = None,
    facts: FactsOption = None,
    format_: Annotated[OutputFormat, typer.Option("--format", help="text or json")] = (
        OutputFormat.TEXT
    ),
) -> None:
    """Classify the situation into Class 1-5 and print the ordered steps with their commands.

    Facts are observed first (where the CNAME points, read back; what each slot runs and
    whether it answers; how many rows the new generation wrote), then read from the ledger
    (which step the deploy reached, which migrations it applied, whether the prior build
    can still be built, whether the database answers); --facts FILE supplies or overrides
    them. Class 5 only on confirmed conditions: the database unanswered after 3 attempts, a
    provider failing 2 reads with 5xx or timeouts, prior code that cannot be rebuilt; a
    refusal (401/403/404, a wrong password) exits 2 naming the setting.
    The deploy described is the open one, else the completed deploy now live: aborted and
    rolled-back deploys decide nothing unless named with --deploy. A rollback in progress
    is shown instead (`rollback run` resumes it). Nothing is changed.

    Example: spectral-deploy rollback plan --symptom data --format json
    """
    in_progress = _open_rollback(ctx) if facts is None else None
    if in_progress is not None:
        _print_in_progress(in_progress, format_)
        return
    # the database this command opened (once it answers), the providers built from the config
    opened = state(ctx).database
    gathered, chosen = _plan(state(ctx).config(), symptom, deploy, facts, database=opened)
    if format_ is OutputFormat.JSON:
        console.print_json(
            {**chosen.as_json(), "facts": gathered.facts.as_json(), "notes": list(gathered.notes)}
        )
        return
    _print_plan(gathered, chosen)
    console.info("next: spectral-deploy rollback run")


@app.command()
def run(
    ctx: typer.Context,
    symptom: SymptomOption = None,
    deploy: DeployOption = None,
    facts: FactsOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before each step.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan and the messages; change nothing.")
    ] = False,
    here: Annotated[
        bool,
        typer.Option(
            "--here",
            help="Class 3: run the rollback tag's cutover in this process. Without it, with "
            "[vcs] provider = github, the deploy workflow (vcs.deploy_workflow) is dispatched "
            "with the tag and waited for.",
        ),
    ] = False,
) -> None:
    """Execute the plan step by step (asking before each unless --yes), recording each step
    in the ledger as intent then outcome. A rollback in progress is resumed: done steps are
    not repeated. Communications (chat, release note, incident log) never block it.

    Class 2 flips back to blue, tells green's workers to stop claiming at once (they finish
    the rows in hand), adopts green's rows into blue's generation with a fresh attempt budget
    (rows of a topic blue has no handler for stay, listed with the command to handle them),
    then retires green after one TTL.

    Class 3 deploys the rollback tag through the deploy workflow when GitHub is configured
    (dispatched once, waited for until the cutover), or here with --here. That deploy of the
    prior code runs no migration: it checks the database is at or ahead of what the code
    expects and keeps the schema ("schema ahead of code, kept").

    Example: spectral-deploy rollback run --symptom behavior --yes
    """
    from spectral_deploy.cutover.orchestrator import Deployer
    from spectral_deploy.rollback.run import RollbackRunner

    config = state(ctx).config()
    if dry_run:
        database_down = _database_down(ctx)
        if database_down is not None:
            console.warn(f"{database_down}: planning from the observation and --facts")
            gathered, chosen = _plan(config, symptom, deploy, facts)
            _print_plan(gathered, chosen)
            _tell_offline(config, gathered, chosen, dry_run=True)
            console.info("dry run: nothing changed")
            return
    database = state(ctx).database(create=not dry_run)
    deployer = Deployer.from_config(
        config,
        database,
        say=lambda text: console.info(f"    {text}"),
        progress=console.waiting,
    )

    def confirm(step: object) -> bool:
        title = getattr(step, "title", "this step")
        return yes or typer.confirm(f"  {title}?", default=True)

    runner = RollbackRunner(
        config,
        database,
        deployer,
        say=lambda text: console.info(f"  {text}"),
        confirm=confirm,
        here=here,
    )
    record = runner.open_record()
    if record is None:
        gathered, chosen = _plan(config, symptom, deploy, facts, deployer)
        _print_plan(gathered, chosen)
        if dry_run:
            console.info("dry run: nothing changed")
            return
        record = runner.begin(chosen, gathered.facts, gathered.deploy)
        console.info(f"rollback #{record.id} started")
    else:
        console.info(
            f"rollback #{record.id} (class {record.failure_class}) is in progress: resuming at "
            f"step {record.steps_done + 1} of {len(record.steps)}"
        )
        if dry_run:
            return
    finished = runner.run(record)
    if finished.finished_at is not None:
        console.success(f"rollback #{finished.id} {finished.outcome}")


def _open_rollback(ctx: typer.Context) -> RollbackRecord | None:
    from spectral_deploy.errors import SpectralError
    from spectral_deploy.rollback.run import RollbackRunner

    try:
        database = state(ctx).database()
    except SpectralError:
        return None  # planning without a database goes on (Class 5 from the observation)
    return RollbackRunner.read_open(database)


def _print_in_progress(record: RollbackRecord, format_: OutputFormat) -> None:
    if format_ is OutputFormat.JSON:
        console.print_json(
            {
                "class": record.failure_class,
                "reasons": list(record.reasons),
                "steps": [step.as_json() for step in record.steps],
                "facts": record.facts,
                "notes": [],
                "in_progress": {"rollback": record.id, "steps_done": record.steps_done},
            }
        )
        return
    console.info(
        f"rollback #{record.id} (class {record.failure_class}) is in progress: step "
        f"{record.steps_done + 1} of {len(record.steps)} is next"
    )
    for number, step in enumerate(record.steps, 1):
        done = "done" if number <= record.steps_done else ""
        console.info(f"  {number}. {step.title}  {done}".rstrip())
        console.info(f"       $ {step.command}")
    console.info("next: spectral-deploy rollback run")


@app.command()
def notify(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be sent; send nothing.")
    ] = False,
    symptom: SymptomOption = None,
    facts: FactsOption = None,
) -> None:
    """Send (or re-send what failed of) the latest rollback's communications: the ops chat,
    the GitHub Release note, the incident log. Channels already sent are not sent again.
    The incident note is appended once the rollback is resolved, with this incident's
    timeline.

    With the database down (Class 5), --facts FILE (and --symptom) tell the story instead:
    the chat message and the release note are sent unrecorded (running it twice sends twice),
    the incident note waits for the database.

    Example: spectral-deploy rollback notify --dry-run
    """
    from spectral_deploy.cutover.orchestrator import Deployer
    from spectral_deploy.errors import PreconditionFailed
    from spectral_deploy.rollback.run import RollbackRunner

    config = state(ctx).config()
    database_down = _database_down(ctx, create=not dry_run)
    if database_down is not None:
        if facts is None:
            raise PreconditionFailed(
                f"{database_down}: no rollback record can be read",
                hint="spectral-deploy rollback notify --facts FILE [--symptom S]  (the "
                "facts of the incident; docs/deploy.md)",
            )
        console.warn(f"{database_down}: telling the incident from {facts}")
        gathered, chosen = _plan(config, symptom, None, facts)
        _tell_offline(config, gathered, chosen, dry_run=dry_run)
        return
    database = state(ctx).database(create=not dry_run)
    runner = RollbackRunner(config, database, Deployer.from_config(config, database))
    record = runner.open_record() or runner.latest_record()
    if record is None:
        raise PreconditionFailed("no rollback yet", hint="spectral-deploy rollback plan")
    _report_deliveries(runner.notify(record, dry_run=dry_run))


def _database_down(ctx: typer.Context, *, create: bool = False) -> str | None:
    """Why the database cannot be reached (None: it answers)."""
    from spectral_deploy.errors import DatabaseUnreachable, EmbeddedServerError

    try:
        state(ctx).database(create=create)
    except (DatabaseUnreachable, EmbeddedServerError) as exc:
        return exc.message
    return None


def _tell_offline(config: Config, gathered: Gathered, plan: Plan, *, dry_run: bool) -> None:
    from datetime import UTC, datetime

    from spectral_deploy.notify.send import deliver
    from spectral_deploy.rollback.offline import offline_story

    story = offline_story(gathered, plan, datetime.now(UTC))
    _report_deliveries(deliver(config, None, story, dry_run=dry_run))


def _report_deliveries(deliveries: list[Delivery]) -> None:
    from spectral_deploy.errors import CheckFailed

    for delivery in deliveries:
        console.info(f"{delivery.channel}: {delivery.status}: {delivery.detail.splitlines()[0]}")
    failed = [d.channel for d in deliveries if d.status == "failed"]
    if failed:
        raise CheckFailed(
            f"not sent: {', '.join(failed)}", hint="spectral-deploy rollback notify  (retries them)"
        )
