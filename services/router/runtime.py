"""The running router: store, Kafka producer, consumer, outbox relay and scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncEngine

from libs.common.events.privacy import ContactErased
from libs.common.health import ReadinessCheck
from libs.common.kafka.consumer import ConsumerRunner
from libs.common.kafka.producer import EventProducer
from libs.common.memory import memory_upkeep
from services.router.assistant_consumer import build_assistant_consumer
from services.router.bootstrap import build_context, open_store
from services.router.configuration import ConfigError
from services.router.consumer import (
    build_consumer,
    build_outcome_consumer,
    commits_survive_a_crash,
)
from services.router.relay import BatchPublisher, OutboxRelay
from services.router.scheduler import Scheduler
from services.router.service.agents import seed_agents
from services.router.service.api_keys import Role, create_api_key, key_count
from services.router.service.audit import SYSTEM, AuditEntry
from services.router.service.config_reload import ReloadNotAudited, reload_configuration
from services.router.service.context import Clock, RouterContext, system_clock
from services.router.service.retention import RetentionPolicy
from services.router.settings import RouterSettings
from services.router.store.engine import ping
from services.router.store.outbox import CommittedOutbox
from services.router.store.planner_statistics import StatisticsKeeper

log = logging.getLogger(__name__)


class RouterRuntime:
    def __init__(
        self,
        settings: RouterSettings,
        *,
        clock: Clock = system_clock,
        run_consumer: bool = True,
        run_scheduler: bool = True,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._run_consumer = run_consumer
        self._run_scheduler = run_scheduler
        self.engine: AsyncEngine | None = None
        self.ctx: RouterContext | None = None
        self.producer: EventProducer | None = None
        self.relay: OutboxRelay | None = None
        self.publisher: BatchPublisher | None = None
        self.scheduler: Scheduler | None = None
        self.consumer: ConsumerRunner | None = None
        self.outcome_consumer: ConsumerRunner | None = None
        self.assistant_consumer: ConsumerRunner | None = None
        self.dev_admin_key: str | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._sighup = False
        #: run between the consumer's polls (``_keep_memory_down``)
        self.memory_upkeep = memory_upkeep(settings)

    async def start(self) -> None:
        settings = self.settings
        self.engine = await open_store(settings)
        committed = CommittedOutbox()  # committed outbox rows, handed to the relay
        self.ctx = build_context(
            settings,
            self.engine,
            clock=self._clock,
            on_commit=committed.wake.set,
            hand_over=committed.hand_over,
        )
        await seed_agents(self.ctx)
        await self._bootstrap_keys()
        self.producer = EventProducer(settings.kafka, client_id="router")
        await self.producer.start()
        self.publisher = BatchPublisher(settings.kafka)
        await self.publisher.start()
        self.relay = OutboxRelay(
            self.ctx.uow,
            self.publisher,
            topic=settings.kafka.topics.routing,
            committed=committed,
            topics_by_type={ContactErased.ce_type: settings.kafka.topics.privacy},
            batch=settings.relay_batch,
            interval_s=settings.relay_interval_s,
        )
        self._spawn(self.relay.run(self._stop), "relay")
        if not settings.is_sqlite and settings.pg_statistics_check_s > 0:
            keeper = StatisticsKeeper(self.engine, interval_s=settings.pg_statistics_check_s)
            self._spawn(keeper.run(self._stop), "planner-statistics")
        if self._run_scheduler:
            self.scheduler = Scheduler(
                self.ctx,
                interval_s=settings.scheduler_interval_s,
                batch=settings.scheduler_batch,
                retention=RetentionPolicy.from_settings(settings),
            )
            self._spawn(self.scheduler.run(self._stop), "scheduler")
        if self._run_consumer:
            if not await commits_survive_a_crash(self.engine):
                log.warning(
                    "PostgreSQL has synchronous_commit=off: a crash of the database server "
                    "loses interactions whose Kafka offsets are already committed (they are "
                    "never routed). Set synchronous_commit to on (the default) or local for "
                    "the router's database or role"
                )
            self.consumer = self.interactions_consumer()
            self._spawn(self.consumer.run(self._stop), "consumer")
            self.outcome_consumer = build_outcome_consumer(
                settings.kafka, self.ctx, self.producer, group_id=settings.outcome_consumer_group
            )
            self._spawn(self.outcome_consumer.run(self._stop), "outcome-consumer")
            self.assistant_consumer = build_assistant_consumer(
                settings.kafka, self.ctx, self.producer, group_id=settings.assistant_consumer_group
            )
            self._spawn(self.assistant_consumer.run(self._stop), "assistant-consumer")
        self._keep_memory_down()
        self._watch_sighup()
        log.info("router started (%s)", "SQLite" if settings.is_sqlite else "PostgreSQL")

    def _keep_memory_down(self) -> None:
        """Polls' cyclic garbage collected and free heap pages given back to the OS every
        ``memory_upkeep_interval_s`` (see ``libs.common.memory``): between two of the
        consumer's polls, or from a timer when no poll ended for three intervals."""
        if self.memory_upkeep is not None:
            self._spawn(self.memory_upkeep.run_periodically(self._stop), "memory-upkeep")

    def _watch_sighup(self) -> None:
        """``kill -HUP``: reload rules, policies and agents (kept unchanged if invalid)."""
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reload_config)
            self._sighup = True

    def reload_config(self) -> None:
        """SIGHUP: reload in a task (the files are read off the loop; the audit row is
        committed before the new configuration applies)."""
        self._spawn(self._reload_config(), "config-reload")

    async def _reload_config(self) -> None:
        assert self.ctx is not None
        try:
            config = await reload_configuration(self.ctx, self._system_entry("config.reload"))
        except ConfigError as exc:
            log.error("configuration NOT reloaded (the running one stays): %s", exc)
            return
        except ReloadNotAudited as exc:
            log.error("%s; the running one stays", exc)
            return
        log.info(
            "configuration reloaded: %d rules, %d policies, %d queues",
            len(config.rules.rules),
            len(config.policies.policies),
            len(config.policies.queues),
        )

    def _system_entry(self, action: str) -> AuditEntry:
        assert self.ctx is not None
        return AuditEntry(actor=SYSTEM, role=SYSTEM, action=action, at=self.ctx.clock())

    def interactions_consumer(self) -> ConsumerRunner:
        """The interactions consumer as the settings make it (``start`` runs it; the
        whole-loop bench, ``bench.router_loop_callgrind``, runs one of its own)."""
        assert self.ctx is not None and self.producer is not None and self.engine is not None
        settings = self.settings
        return build_consumer(
            settings.kafka,
            self.ctx,
            self.producer,
            group_id=settings.consumer_group,
            max_batch=settings.consumer_max_batch,
            partition_fetch_bytes=settings.consumer_partition_fetch_kb * 1024,
            fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
            fetch_min_bytes=settings.consumer_fetch_min_bytes,
            between_polls=self.memory_upkeep.run_if_due if self.memory_upkeep else None,
        )

    def _spawn(self, coro, name: str) -> None:  # type: ignore[no-untyped-def]
        task = asyncio.create_task(coro, name=f"router-{name}")
        task.add_done_callback(self._on_task_done)
        self._tasks.append(task)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s stopped: %r", task.get_name(), task.exception())

    async def _bootstrap_keys(self) -> None:
        assert self.ctx is not None
        configured = self.settings.bootstrap_admin_key
        if configured is not None:
            await create_api_key(
                self.ctx,
                role=Role.ADMIN,
                name="bootstrap",
                key=configured.get_secret_value(),
                audit=self._system_entry("key.bootstrap"),
            )
        elif self.settings.creates_dev_key:
            await self._dev_key()

    async def _dev_key(self) -> None:
        """A development admin key, logged once and kept in ``<state_dir>/dev-admin-key``."""
        assert self.ctx is not None
        path = self.settings.state_dir / "dev-admin-key"
        if await key_count(self.ctx) > 0:
            if path.exists():
                log.warning("DEV ADMIN API KEY (development only) is in %s", path)
            return
        self.dev_admin_key = await create_api_key(
            self.ctx, role=Role.ADMIN, name="dev", audit=self._system_entry("key.dev")
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(self.dev_admin_key + "\n")
        log.warning(
            "DEV ADMIN API KEY (development only): %s  (saved in %s) - send it as the "
            "X-API-Key header; set ROUTER_BOOTSTRAP_ADMIN_KEY in production",
            self.dev_admin_key,
            path,
        )

    async def stop(self) -> None:
        self._stop.set()
        if self._sighup:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._sighup = False
        for consumer in (self.consumer, self.outcome_consumer, self.assistant_consumer):
            if consumer is not None:
                consumer.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10)
        if self.publisher is not None:
            await self.publisher.stop()
        if self.producer is not None:
            await self.producer.stop()
        if self.engine is not None:
            await self.engine.dispose()

    async def _workers_alive(self) -> bool:
        """Consumer, relay and scheduler still run (a crashed one makes the pod unready)."""
        return self._stop.is_set() or not any(task.done() for task in self._tasks)

    def readiness_checks(self) -> Mapping[str, ReadinessCheck]:
        checks: dict[str, ReadinessCheck] = {}
        if self.engine is not None:
            engine = self.engine
            checks["database"] = lambda: ping(engine)
        if self.producer is not None:
            checks["kafka"] = self.producer.ready
        if self._tasks:
            checks["workers"] = self._workers_alive
        return checks or {"starting": _not_ready}


async def _not_ready() -> bool:
    return False
