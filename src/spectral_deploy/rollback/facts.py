"""Gathering the planner's facts from the world first, then the ledger and the deploys table.

What is live is observed (the CNAME read back, what each slot runs, the public probe where
there is one); the deploy the facts describe is the one that matches it: the open deploy,
else the completed deploy whose generation runs where the CNAME points. Aborted and
rolled-back deploys never decide a class unless named with ``--deploy``. Rows the new
generation wrote are counted, never assumed absent.

Every source may be down, and down is a fact only when confirmed (``rollback/conditions.py``):
a database that does not answer ``DATABASE_ATTEMPTS`` times is ``database_healthy = false``,
a provider whose reads fail with 5xx or timeouts ``PROVIDER_READS`` times is
``provider_outage`` (both Class 5). A refusal (401/403/404, a wrong password, a bad
setting) is raised as the error it is, naming the setting, never taken for an outage. The
prior code is unavailable only when it cannot be rebuilt. ``--facts FILE``
supplies or overrides any fact, so the planner works when nothing else does. The database
and the providers are passed in (``FactSources``), never built here, so the same code runs
against the real providers and the in-process fakes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from spectral_deploy.config import Config
from spectral_deploy.cutover import store
from spectral_deploy.cutover.model import Deploy, Outcome
from spectral_deploy.cutover.observe import FlipState, LiveObservation, flip_state
from spectral_deploy.cutover.observe import observe as observe_live
from spectral_deploy.cutover.relint import lint_deploy
from spectral_deploy.db import Database
from spectral_deploy.db.access import ping
from spectral_deploy.errors import InputError, PreconditionFailed, SpectralError
from spectral_deploy.ledger import generations
from spectral_deploy.outbox.drain import unfinished_rows
from spectral_deploy.providers.base import (
    DnsProvider,
    HostingProvider,
    PublicProbe,
    SourceTree,
    VcsProvider,
)
from spectral_deploy.rollback.classify import Facts, Symptom, facts_from_json
from spectral_deploy.rollback.conditions import (
    DATABASE_ATTEMPTS,
    DATABASE_RETRY_SECONDS,
    PROVIDER_READS,
    PROVIDER_RETRY_SECONDS,
    database_down,
    database_refusal,
    provider_down,
    provider_refusal,
)

__all__ = ["FactProviders", "FactSources", "Gathered", "gather", "migrations_compatible"]

log = logging.getLogger(__name__)

# how far back to look for the deploy that put the live generation in place
DEPLOYS_SCANNED = 200


@dataclass(frozen=True)
class FactProviders:
    """The providers the facts are observed through."""

    hosting: HostingProvider
    dns: DnsProvider
    source: SourceTree
    probe: PublicProbe | None = None


@dataclass(frozen=True)
class FactSources:
    """Where facts are read from, passed in by the caller (``rollback.planner`` takes a
    deployer's, or builds them once from the configuration). ``database``: the database, or
    how to open it (called again on each attempt that confirms it gone; a failure is the fact
    ``database_healthy = false``). ``providers``: the providers, or how to build them for the
    database once it answers (a failure to is our configuration, raised naming the key)."""

    database: Database | Callable[[], Database]
    providers: FactProviders | Callable[[Database], FactProviders]
    # the tags a rollback tag must not take are read through it (None: the configured VCS)
    vcs: VcsProvider | None = None
    # the pause between the attempts that confirm an outage
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)


@dataclass(frozen=True)
class Gathered:
    """The facts, the deploy they describe, what was observed, and notes on both."""

    facts: Facts
    deploy: Deploy | None
    database: Database | None
    notes: tuple[str, ...]
    observed: LiveObservation | None = None


def gather(
    config: Config,
    *,
    symptom: Symptom | None,
    deploy_id: int | None = None,
    facts_file: Path | None = None,
    sources: FactSources,
) -> Gathered:
    """Observe what can be observed, pick the deploy that matches it, then apply ``--facts``."""
    notes: list[str] = []
    if facts_file is not None:  # a bad file is named before anything is reached
        _override(Facts(cutover_completed=False, blue_warm=False, symptom=None), facts_file)
    database = _reach_database(config, sources, notes)
    facts = Facts(
        cutover_completed=False,
        blue_warm=False,
        symptom=symptom,
        database_healthy=database is not None,
        prior_build_available=False,
    )
    deploy: Deploy | None = None
    observed: LiveObservation | None = None
    if database is not None:
        # a provider that cannot be set up is our configuration: its error says which key
        found = (
            sources.providers
            if isinstance(sources.providers, FactProviders)
            else sources.providers(database)
        )
        hosting = found.hosting
        observed, outage = _observe_confirmed(
            config, found.dns, hosting, found.probe, sources.sleep
        )
        facts = replace(facts, provider_outage=outage)
        deploy = _choose_deploy(database, observed, deploy_id, notes)
        if deploy is not None:
            facts = _deploy_facts(
                database, hosting, observed, deploy, facts=facts, notes=notes, sleep=sources.sleep
            )
            if symptom is Symptom.MIGRATION and deploy.from_commit:
                facts = replace(
                    facts,
                    migration_compatible_with_prior=migrations_compatible(
                        config, deploy, notes, found.source, database
                    ),
                )
        elif deploy_id is None and symptom is not Symptom.CATASTROPHIC and facts_file is None:
            _nothing_to_roll_back(database, observed, notes)
    if facts_file is not None:
        facts = _override(facts, facts_file)
        notes.append(f"facts overridden from {facts_file}")
    return Gathered(facts, deploy, database, tuple(notes), observed)


def _reach_database(config: Config, sources: FactSources, notes: list[str]) -> Database | None:
    """The database, or None once it is confirmed gone; a refusal is raised as it is."""
    failures: list[SpectralError] = []
    for attempt in range(DATABASE_ATTEMPTS):
        if attempt:
            sources.sleep(DATABASE_RETRY_SECONDS[min(attempt, len(DATABASE_RETRY_SECONDS)) - 1])
        try:
            opened = sources.database
            database = opened if isinstance(opened, Database) else opened()
            with database.connect() as conn:
                ping(conn)
        except SpectralError as exc:
            refusal = database_refusal(exc)
            if refusal is exc:
                raise
            if refusal is not None:
                raise refusal from exc
            failures.append(exc)
            log.warning("action=facts.database_unanswered attempt=%d error=%s", attempt + 1, exc)
            continue
        return database
    assert database_down(failures)
    notes.append(f"the database does not answer ({len(failures)} attempts): {failures[-1].message}")
    return None


def _observe_confirmed(
    config: Config,
    dns: DnsProvider,
    hosting: HostingProvider,
    probe: PublicProbe | None,
    sleep: Callable[[float], None],
) -> tuple[LiveObservation, bool]:
    """The observation, read again while a provider fails as if down; True: down, confirmed.

    A failure that is not an outage (a refusal, a rate limit) is raised as the clear error."""
    failures: list[SpectralError] = []
    for read in range(PROVIDER_READS):
        if read:
            sleep(PROVIDER_RETRY_SECONDS)
        observed = observe_live(config, dns, hosting, probe=probe)
        if not observed.failures:
            return observed, False
        for failure in observed.failures:
            refusal = provider_refusal(failure)
            if refusal is failure:
                raise failure
            if refusal is not None:
                raise refusal from failure
        failures.append(observed.failures[0])
    return observed, provider_down(failures)


def _confirmed_read(read: Callable[[], bool], sleep: Callable[[float], None]) -> bool | None:
    """``read()``, tried again while it fails as if down; None: the provider is down."""
    failures: list[SpectralError] = []
    for attempt in range(PROVIDER_READS):
        if attempt:
            sleep(PROVIDER_RETRY_SECONDS)
        try:
            return read()
        except SpectralError as exc:
            refusal = provider_refusal(exc)
            if refusal is exc:
                raise
            if refusal is not None:
                raise refusal from exc
            failures.append(exc)
    assert provider_down(failures)
    return None


def _choose_deploy(
    database: Database,
    observed: LiveObservation,
    deploy_id: int | None,
    notes: list[str],
) -> Deploy | None:
    """``--deploy N``, else the open deploy, else the completed deploy now live."""
    schema = database.schema
    with database.connect() as conn:
        if deploy_id is not None:
            named = store.get(conn, schema, deploy_id)
            if named is None:
                raise InputError(f"no deploy #{deploy_id}", hint="spectral-deploy deploy list")
            return named
        opened = store.open_deploy(conn, schema)
        if opened is not None:
            return opened
        live = observed.live_generation
        if live is None and not (observed.record_known and all(s.known for s in observed.slots)):
            active = generations.active(conn, schema)
            live = active.generation if active else None
            notes.append(
                "what runs where the CNAME points cannot be observed: the ledger's active "
                f"generation ({live}) stands in for it"
            )
        for deploy in store.list_recent(conn, schema, DEPLOYS_SCANNED):
            if deploy.outcome is Outcome.COMPLETED and deploy.generation == live:
                return deploy
    return None


def _nothing_to_roll_back(database: Database, observed: LiveObservation, notes: list[str]) -> None:
    with database.connect() as conn:
        latest = store.latest(conn, database.schema)
    if latest is None:
        notes.append("no deploy recorded yet")
        return
    live = observed.live_generation
    raise PreconditionFailed(
        f"no deploy is open and none put what is live in place ({observed.describe_record()}, "
        f"generation {live if live is not None else 'unknown'}); the latest, #{latest.id} "
        f"({latest.tag}), is {latest.outcome or 'open'}: aborted and rolled-back deploys do "
        "not decide a class",
        hint="spectral-deploy rollback plan --deploy <id>  (spectral-deploy deploy list)",
    )


def _deploy_facts(
    database: Database,
    hosting: HostingProvider,
    observed: LiveObservation,
    deploy: Deploy,
    *,
    facts: Facts,
    notes: list[str],
    sleep: Callable[[float], None] = time.sleep,
) -> Facts:
    """The deploy's facts, from what is observed now."""
    facts = replace(
        facts,
        from_generation=deploy.from_generation,
        to_generation=deploy.generation,
        tag=deploy.tag,
        prior_commit=deploy.from_commit,
    )
    down = f"a provider is down (read {PROVIDER_READS} times)"
    unknown = [s.error for s in observed.slots if not s.known]
    if not observed.record_known or unknown:
        notes.append(f"{down}: {unknown[0] if unknown else observed.describe_record()}")
        return facts
    state = flip_state(deploy, observed)
    if deploy.finished:
        completed = deploy.outcome is Outcome.COMPLETED and (
            observed.live_generation == deploy.generation
        )
    else:
        completed = state in (FlipState.FLIPPED, FlipState.UNRECORDED, FlipState.FLIPPED_BACK)
    if state is FlipState.UNRECORDED and not deploy.finished:
        notes.append(
            f"{observed.describe_record()}: the flip happened but deploy #{deploy.id} never "
            "recorded it"
        )
    if state is FlipState.FLIPPED_BACK and not deploy.finished:
        notes.append(f"the CNAME already points back at blue: {observed.describe_record()}")
    if observed.probe_disagrees and observed.probe is not None:
        notes.append(
            f"the public probe was answered by slot {observed.probe.color} while the record "
            f"points at {observed.record_color} (resolvers still caching the old answer?)"
        )
    blue_warm = False
    if deploy.has_blue and not deploy.finished:
        blue = observed.slot(deploy.blue)
        blue_warm = blue is not None and blue.serving and blue.generation == deploy.from_generation
        if not blue_warm:
            why = (
                blue.health.detail
                if blue is not None and blue.health is not None and blue.running
                else f"it runs generation {blue.generation}"
                if blue is not None and blue.deployment is not None
                else "nothing runs there"
            )
            notes.append(f"blue ({deploy.blue}) is not warm: {why}")
    prior_build = _prior_buildable(hosting, deploy, notes, sleep)
    if prior_build is None:
        notes.append(f"{down}: whether the prior code can be built is unknown")
        return replace(facts, provider_outage=True)
    rows: int | None = None
    if deploy.generation is not None:
        with database.connect(autocommit=True) as conn:
            rows = unfinished_rows(conn, database.schema, deploy.generation, None)
    return replace(
        facts,
        cutover_completed=completed,
        blue_warm=blue_warm,
        prior_build_available=prior_build,
        rows_at_new_generation=rows,
    )


def _prior_buildable(
    hosting: HostingProvider, deploy: Deploy, notes: list[str], sleep: Callable[[float], None]
) -> bool | None:
    """Whether the prior commit can be deployed again (None: the provider is down)."""
    commit = deploy.from_commit
    if not commit:
        return False
    buildable = _confirmed_read(lambda: hosting.build_available(commit), sleep)
    if buildable is False:
        notes.append(f"the prior commit {commit[:12]} can be neither redeployed nor rebuilt")
    return buildable


def migrations_compatible(
    config: Config,
    deploy: Deploy,
    notes: list[str],
    source: SourceTree,
    database: Database | None = None,
) -> bool | None:
    """Whether the prior code runs on the new schema: re-lint what the deploy added, the way
    the deploy's lint step does (``cutover.relint``); a finding or an override is a no."""
    if deploy.from_commit is None:
        return None
    url = (lambda: database.url) if database is not None else (lambda: None)
    try:
        found = lint_deploy(config, source, deploy, database_url=url)
    except SpectralError as exc:
        notes.append(f"cannot re-lint the deploy's migrations: {exc.message}")
        return None
    report = found.report
    if report is None:
        notes.append("the deploy added no migration")
        return True
    if report.violations or report.overrides:
        found_ = [f"{v.path}:{v.line} {v.rule}" for v in report.violations]
        found_ += [f"{o.path} (override: {o.reason})" for o in report.overrides]
        notes.append("re-lint: the prior code may not run on the new schema: " + "; ".join(found_))
        return False
    return True


def _override(facts: Facts, path: Path) -> Facts:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    return facts_from_json(data, str(path), base=facts)
