"""``spectral-deploy deploy``: the blue/green cutover of a release tag."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from spectral_deploy.cli import console
from spectral_deploy.cli.common import OutputFormat, state

if TYPE_CHECKING:
    from spectral_deploy.cutover.model import Condition, Deploy
    from spectral_deploy.cutover.orchestrator import Deployer

__all__ = ["app"]


class _TagOrCommand(TyperGroup):
    """``deploy v1.4.0`` means ``deploy start v1.4.0``; named subcommands work as usual."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["start", *args]
        return list(super().parse_args(ctx, args))


app = typer.Typer(
    cls=_TagOrCommand,
    help=(
        "Deploy a release tag blue/green: the runbook's ten steps (preflight, allocate a "
        "generation, lint and apply migrations, deploy green, health, workers, smoke test, "
        "workers running, final gate), then the CNAME flip and a hold window with blue warm. "
        "Every step is recorded in the ledger; after a crash, `deploy resume` continues.\n\n"
        "Example: spectral-deploy deploy v1.4.0"
    ),
    no_args_is_help=True,
)


def _deployer(ctx: typer.Context, *, create: bool = False) -> Deployer:
    from spectral_deploy.cutover.orchestrator import Deployer

    return Deployer.from_config(
        state(ctx).config(),
        state(ctx).database(create=create),
        say=lambda text: console.info(f"  {text}"),
        progress=console.waiting,
    )


@app.command()
def start(
    ctx: typer.Context,
    tag: Annotated[str, typer.Argument(help="The release tag to deploy, e.g. v1.4.0.")],
    watch_seconds: Annotated[
        float,
        typer.Option(help="After the cutover, watch the hold window this long (0: return)."),
    ] = 0.0,
    trigger: Annotated[
        str | None,
        typer.Option(
            "--trigger",
            metavar="EVENT",
            help="For the deploy workflow: the event that started it (push or "
            "workflow_dispatch). A tag already deployed is not deployed again, and a push run "
            "leaves a rollback tag to the run its rollback dispatched; both exit 0.",
        ),
    ] = None,
) -> None:
    """Deploy TAG (same as `spectral-deploy deploy TAG`); an open deploy of TAG is resumed.

    Forward-only: a TAG whose code is older than the schema (a rollback tag, any older
    release) runs no migration; step 4 checks from the migration tool's record and the
    ledger that the database is at or ahead of what the code expects and keeps it ("schema
    ahead of code, kept"). A database that diverged from the code stops step 4.

    Example: spectral-deploy deploy v1.4.0 --watch-seconds 120
    """
    if trigger is not None:
        from spectral_deploy.cutover.triggers import Trigger, workflow_skip
        from spectral_deploy.errors import UsageError

        try:
            event = Trigger(trigger)
        except ValueError:
            raise UsageError(
                f"--trigger must be one of {', '.join(t.value for t in Trigger)}, got {trigger!r}",
                hint='deploy-prod.yml passes --trigger "${{ github.event_name }}"',
            ) from None
        skip = workflow_skip(state(ctx).database(create=True), tag, event)
        if skip is not None:
            console.info(f"skipped: {skip.reason}")
            return
    deployer = _deployer(ctx, create=True)
    deploy = deployer.start(tag)
    _after_cutover(deployer, deploy, watch_seconds)


@app.command()
def resume(
    ctx: typer.Context,
    watch_seconds: Annotated[
        float, typer.Option(help="After the cutover, watch the hold window this long.")
    ] = 0.0,
) -> None:
    """Continue the open deploy from the first step not done (each step observes first),
    with the current config: when [hosting] python, web_command, worker_app, workers or
    health_path changed since green was deployed (say, a wrong web_command was fixed), green
    is deployed again before the failed step runs. Waits over 2 s print what they wait for,
    elapsed / limit and where to look (spectral-deploy logs green).

    Example: spectral-deploy deploy resume
    """
    deployer = _deployer(ctx, create=True)
    deploy = deployer.resume()
    _after_cutover(deployer, deploy, watch_seconds)


@app.command()
def abort(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Abort the open deploy before its cutover (the runbook's Class 1): green is stopped,
    blue is left as it is, the new generation is marked failed. Rows the new generation wrote
    anyway (smoke tests, direct traffic) are counted and adopted by the live generation.

    Refused (exit 3) while the CNAME, read back, points at green (or the public probe is
    answered by green): the flip happened, so stopping green would stop the live slot. Then
    `deploy resume` records the flip, or `rollback run --symptom behavior` flips back.

    Example: spectral-deploy deploy abort --yes
    """
    deployer = _deployer(ctx)
    if not yes:
        typer.confirm("Abort the open deploy (stop green, keep blue)?", abort=True)
    report = deployer.abort()
    deploy = report.deploy
    console.success(f"deploy #{deploy.id} ({deploy.tag}) aborted")
    if report.rows_found:
        console.info(
            f"  generation {deploy.generation} had {report.rows_found} unfinished row(s): "
            + (
                f"{report.rows_adopted} adopted by generation {report.adopted_into}"
                if report.adopted_into is not None
                else "no live generation could adopt them"
            )
        )
    if report.rows_left and deploy.generation is not None:
        console.warn(f"generation {deploy.generation} still has {report.rows_left} row(s)")
        console.info(f"  next: spectral-deploy drain --target-generation {deploy.generation}")
    if report.blue_serving is False:
        console.warn(f"blue: {report.blue_detail}")
        console.info("  next: spectral-deploy status")
    else:
        console.info(f"  blue: {report.blue_detail}")


@app.command()
def finish(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    when_due: Annotated[
        bool,
        typer.Option(
            "--when-due",
            help="Finish only if the hold window is over and no breach was recorded or is "
            "observed now (health, CNAME, error rate); otherwise say why and exit 0, or exit 1 "
            "after a breach. What the deploy and deploy-finish workflows run.",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="End the hold window before its time (blue stops now; resolvers that still "
            "send it traffic get errors, and there is no flip back).",
        ),
    ] = False,
) -> None:
    """End the hold window: blue's workers drain their generation and stop, blue is stopped.

    Refused (exit 3, with the time left) while the hold window ([deploy] hold_seconds after
    the flip) is still open, unless --force; --when-due finishes only once it is over.

    Example: spectral-deploy deploy finish --when-due --yes
    """
    deployer = _deployer(ctx)
    if when_due:
        from spectral_deploy.cutover.due import finish_when_due

        if not yes:
            typer.confirm("Finish the open deploy if it is due (stop blue)?", abort=True)
        outcome = finish_when_due(deployer, datetime.now(UTC))
        if outcome.report is None:
            console.info(outcome.message)
            return
        report = outcome.report
    else:
        if not yes:
            typer.confirm("Finish the deploy (stop blue; no flip back after this)?", abort=True)
        report = deployer.finish(force=force)
    console.success(f"deploy #{report.deploy.id} ({report.deploy.tag}) completed")
    if report.rows_left and report.retired_generation is not None:
        console.warn(
            f"generation {report.retired_generation} still has {report.rows_left} unfinished "
            "row(s) after its workers stopped"
        )
        console.info(
            f"  next: spectral-deploy drain --target-generation {report.retired_generation}"
        )


@app.command()
def status(
    ctx: typer.Context,
    format_: Annotated[OutputFormat, typer.Option("--format", help="text or json")] = (
        OutputFormat.TEXT
    ),
) -> None:
    """The open (or latest) deploy: phase, steps, conditions, generations, colors, next command.

    Example: spectral-deploy deploy status --format json
    """
    from spectral_deploy.cutover.model import Step
    from spectral_deploy.cutover.observe import flip_state
    from spectral_deploy.cutover.phase import compute_phase, next_commands

    deployer = _deployer(ctx)
    deploy = deployer.current()
    if deploy is None:
        if format_ is OutputFormat.JSON:
            console.print_json({"deploy": None})
        else:
            console.info("no deploy yet")
        return
    phase = compute_phase(deploy, datetime.now(UTC))
    conditions = deployer.observe(deploy) if not deploy.finished else list(deploy.conditions)
    flip = None if deploy.finished else flip_state(deploy, deployer.observe_live(health=False))
    commands = next_commands(deploy, phase, flip)
    if format_ is OutputFormat.JSON:
        console.print_json(
            {
                "deploy": {
                    **deploy.as_json(),
                    "phase": str(phase),
                    "conditions": [c.as_json() for c in conditions],
                    "steps": [
                        {"step": int(s), "name": s.slug, "state": _step_state(deploy, s)}
                        for s in Step
                    ],
                    "next": commands,
                }
            }
        )
        return
    console.info(
        f"deploy #{deploy.id}: {deploy.tag} ({deploy.commit[:12]})  phase: {phase}"
        + (f"  outcome: {deploy.outcome}" if deploy.outcome else "")
    )
    console.info(
        f"  generations: {deploy.from_generation or '-'} -> {deploy.generation or '-'}   "
        f"blue: {deploy.blue}   green: {deploy.green}"
    )
    if deploy.hold_until and not deploy.finished:
        left = (deploy.hold_until - datetime.now(UTC)).total_seconds()
        console.info(
            f"  hold window: blue stays warm until {deploy.hold_until:%H:%M:%S} UTC"
            + (f" ({left:.0f} s left)" if left > 0 else " (over)")
        )
    console.print_table(
        ["step", "", "state"],
        [(int(s), s.title, _step_state(deploy, s)) for s in Step],
    )
    if deploy.error and deploy.failed_step:
        console.info(f"  error: {deploy.error.splitlines()[0]}")
    _print_conditions(conditions)
    for command in commands:
        console.info(f"  next: {command}")


@app.command()
def watch(
    ctx: typer.Context,
    seconds: Annotated[
        float | None,
        typer.Option(help="Stop after this long (default: until the hold window ends)."),
    ] = None,
) -> None:
    """Watch green and blue during the hold window (health, CNAME, error rate); on a breach,
    say so with the rollback command and exit 1.

    Example: spectral-deploy deploy watch --seconds 300
    """
    from spectral_deploy.errors import CheckFailed

    deployer = _deployer(ctx)

    def show(conditions: list[Condition], errors: int) -> None:
        line = ", ".join(f"{c.type}={c.status}" for c in conditions)
        console.info(f"  {datetime.now(UTC):%H:%M:%S} {line}, errors={errors}")

    report = deployer.watch(seconds=seconds, on_check=show)
    if report.breach:
        raise CheckFailed(
            f"hold-window breach on deploy #{report.deploy.id}: {report.breach}",
            hint="spectral-deploy rollback plan --symptom behavior",
        )
    console.success(f"no breach in {report.checks} check(s)")


@app.command("list")
def list_(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
    format_: Annotated[OutputFormat, typer.Option("--format", help="text or json")] = (
        OutputFormat.TEXT
    ),
) -> None:
    """Recent deploys, newest first.

    Example: spectral-deploy deploy list --limit 5
    """
    from spectral_deploy.cutover import store
    from spectral_deploy.cutover.phase import compute_phase

    database = state(ctx).database()
    with database.connect() as conn:
        deploys = store.list_recent(conn, database.schema, limit)
    now = datetime.now(UTC)
    if format_ is OutputFormat.JSON:
        console.print_json(
            {"deploys": [{**d.as_json(), "phase": str(compute_phase(d, now))} for d in deploys]}
        )
        return
    console.print_table(
        ["id", "tag", "generations", "green", "phase", "started"],
        [
            (
                d.id,
                d.tag,
                f"{d.from_generation or '-'} -> {d.generation or '-'}",
                d.green,
                compute_phase(d, now),
                d.started_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            )
            for d in deploys
        ],
    )


def _after_cutover(deployer: Deployer, deploy: Deploy, watch_seconds: float) -> None:
    from spectral_deploy.errors import CheckFailed

    if not deploy.flipped:
        return
    observed = deployer.observe_live(health=False)
    if observed.record_color is not deploy.green:  # say what is, not what was recorded
        console.warn(
            f"deploy #{deploy.id} cut over to slot {deploy.green}, but now "
            f"{observed.describe_record()}"
        )
        console.info("  next: spectral-deploy status")
        return
    if deploy.finished:
        console.success(
            f"deploy #{deploy.id}: {deploy.tag} is live on slot {deploy.green} as generation "
            f"{deploy.generation} (first deploy: complete, nothing to keep warm)"
        )
        return
    console.success(
        f"deploy #{deploy.id}: {deploy.tag} is live on slot {deploy.green} as generation "
        f"{deploy.generation}; slot {deploy.blue} (generation {deploy.from_generation}) "
        "stays warm for the hold window"
    )
    if watch_seconds > 0:
        report = deployer.watch(seconds=watch_seconds)
        if report.breach:
            raise CheckFailed(
                f"hold-window breach: {report.breach}",
                hint="spectral-deploy rollback plan --symptom behavior",
            )
        console.success(f"hold window: no breach in {report.checks} check(s)")
    console.info("  next: spectral-deploy deploy watch    (or: deploy finish / rollback plan)")


def _step_state(deploy: Deploy, step: Any) -> str:
    if deploy.failed_step == int(step):
        return "failed"
    if int(step) <= deploy.step:
        return "done"
    if deploy.finished:
        return "-"
    if deploy.failed_step is None and int(step) == deploy.step + 1:
        return "next"
    return "pending"


def _print_conditions(conditions: list[Condition]) -> None:
    for condition in conditions:
        console.info(
            f"  {condition.type}: {condition.status} ({condition.reason}) {condition.message}"
        )
