"""Composition root: settings → clients → handler → consumer, probes beside.

``python -m services.notifier`` (``__main__.py``) runs :func:`run`; tests and
benchmarks call :func:`build_handler` / :func:`run` with their own settings and fakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import uvloop

from libs.common.kafka.consumer import ConsumerRunner, RetryPolicy
from libs.common.kafka.producer import EventProducer
from libs.common.memory import MemoryUpkeep, memory_upkeep
from libs.common.probes import serve_probes
from services.notifier.chat import ChatSenders, StaticChatSenders, build_chat_senders
from services.notifier.compose import ComposeConfig, Composer
from services.notifier.decisions import PlanConfig, silent_types
from services.notifier.handler import (
    HandlerConfig,
    KafkaOutcomePublisher,
    NotificationHandler,
    RetryConfig,
)
from services.notifier.mail import MailIdentity
from services.notifier.privacy import NotifierEraser, erasure_consumer, run_retention
from services.notifier.rendering import Renderer
from services.notifier.sentlog import SentLog
from services.notifier.settings import EventLoop, NotifierSettings
from services.notifier.smtp import SmtpConfig, SmtpPool
from services.notifier.webchat import WebchatSender, serve_outbox
from services.notifier.webhooks import WebhookSender

log = logging.getLogger(__name__)


@dataclass
class Adapters:
    """What the handler talks to; opened and closed together."""

    sentlog: SentLog
    smtp: SmtpPool
    http: httpx.AsyncClient
    producer: EventProducer
    chat: ChatSenders = field(default_factory=lambda: StaticChatSenders({}, {}))


def handler_config(settings: NotifierSettings) -> HandlerConfig:
    plan = PlanConfig(
        locales=tuple(settings.locales),
        default_locale=settings.default_locale,
        own_addresses=frozenset({settings.from_address.lower()}),
        own_domain=settings.mail_domain,
        webhook_targets=tuple(settings.webhook_targets),
    )
    return HandlerConfig(
        plan=plan,
        retry=RetryConfig(
            attempts=settings.send_attempts,
            initial_backoff_s=settings.send_backoff_initial_s,
            max_backoff_s=settings.send_backoff_max_s,
        ),
        rate_window_minutes=settings.rate_window_minutes,
        lease_wait_cap_s=settings.claim_lease_s,
        chat_concurrency=settings.chat_concurrency,
        mail_concurrency=settings.smtp_pool_size * settings.smtp_pipeline_depth,
    )


def compose_config(settings: NotifierSettings) -> ComposeConfig:
    return ComposeConfig(
        identity=MailIdentity(settings.from_address, settings.from_name, settings.mail_domain),
        csat_base_url=settings.csat_base_url,
        csat_secret=settings.csat_signing_secret.get_secret_value(),
        summary_locale=settings.default_locale,
    )


def build_composer(settings: NotifierSettings) -> Composer:
    return Composer(compose_config(settings), build_renderer(settings))


def build_renderer(settings: NotifierSettings) -> Renderer:
    return Renderer(
        override_dir=settings.templates_dir,
        default_locale=settings.default_locale,
        display_timezone=settings.display_timezone,
    )


def build_handler(
    settings: NotifierSettings, adapters: Adapters, stopping: asyncio.Event | None = None
) -> NotificationHandler:
    return NotificationHandler(
        config=handler_config(settings),
        composer=build_composer(settings),
        sentlog=adapters.sentlog,
        smtp=adapters.smtp,
        webhooks=WebhookSender(adapters.http),
        chat=adapters.chat,
        outcomes=KafkaOutcomePublisher(
            adapters.producer, topic=settings.kafka.topics.notifications, source=settings.source
        ),
        stopping=stopping,
    )


@contextlib.asynccontextmanager
async def open_adapters(settings: NotifierSettings) -> AsyncIterator[Adapters]:
    sentlog = SentLog(
        settings.resolved_sentlog_url(),
        lease_s=settings.claim_lease_s,
        hasher=settings.privacy.hasher(),
    )
    smtp = SmtpPool(SmtpConfig.from_settings(settings))
    producer = EventProducer(settings.kafka, client_id=settings.service_name)
    async with contextlib.AsyncExitStack() as stack:
        await sentlog.open()
        stack.push_async_callback(sentlog.close)
        http = await stack.enter_async_context(
            httpx.AsyncClient(timeout=settings.webhook_timeout_s, follow_redirects=False)
        )
        await producer.start()
        stack.push_async_callback(producer.stop)
        stack.push_async_callback(smtp.close)
        chat = build_chat_senders(
            settings.all_integrations(), http, webchat=lambda i: WebchatSender(i, sentlog)
        )
        yield Adapters(sentlog=sentlog, smtp=smtp, http=http, producer=producer, chat=chat)


def consumer_retry(settings: NotifierSettings) -> RetryPolicy:
    """Handler-level retries cover our own plumbing (database, Kafka)."""
    return RetryPolicy(
        max_attempts=3,
        initial_backoff_s=settings.send_backoff_initial_s,
        max_backoff_s=settings.send_backoff_max_s,
    )


def build_runner(
    settings: NotifierSettings,
    handler: NotificationHandler,
    producer: EventProducer,
    *,
    upkeep: MemoryUpkeep | None = None,
) -> ConsumerRunner:
    """The routing topic's consumer, handing each poll to ``handler`` whole; ``upkeep``
    runs between two polls (see ``libs.common.memory``)."""
    return ConsumerRunner(
        settings.kafka,
        topics=[settings.kafka.topics.routing],
        group_id=settings.group_id,
        stage="notifier.handle",
        handler=handler,
        batch_handler=handler.handle_batch,  # a whole poll at once; falls back per event
        producer=producer,
        retry=consumer_retry(settings),
        client_id=settings.service_name,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        fetch_min_bytes=settings.consumer_fetch_min_bytes,
        ignore_types=silent_types(handler_config(settings).plan),
        between_polls=upkeep.run_if_due if upkeep is not None else None,
    )


async def run(settings: NotifierSettings, stop: asyncio.Event) -> None:
    async with open_adapters(settings) as adapters:
        handler = build_handler(settings, adapters, stop)
        # a backlog's polls leave cyclic garbage and freed heap pages that glibc keeps:
        # without the upkeep the notifier's RSS only climbed through a 100,000 backlog
        # (bench.backlog_recovery, 2 pairs: at the end 145.3 / 141.5 → 136.1 / 136.4 MB)
        upkeep = memory_upkeep(settings)
        runner = build_runner(settings, handler, adapters.producer, upkeep=upkeep)
        checks = {
            "kafka": adapters.producer.ready,
            "sentlog": adapters.sentlog.ping,
            "smtp": adapters.smtp.check,
        }
        probes = asyncio.create_task(
            serve_probes(
                lambda: checks, host=settings.probe_host, port=settings.probe_port, stop=stop
            )
        )
        log.info(
            "notifier consuming %s; SMTP %s:%d (%s); sent-log %s",
            settings.kafka.topics.routing,
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_tls.value,
            settings.resolved_sentlog_url().split("://", 1)[0],
        )
        outbox = asyncio.create_task(
            serve_outbox(
                adapters.sentlog,
                settings.all_integrations(),
                host=settings.webchat_host,
                port=settings.webchat_port,
                stop=stop,
            )
        )
        for task, what in ((probes, "probe server"), (outbox, "web-chat outbox")):
            task.add_done_callback(functools.partial(_stop_when_failed, stop, what))
        background = _privacy_tasks(settings, adapters, stop)
        if upkeep is not None:  # when no poll ends for a while (see MemoryUpkeep)
            background.append(asyncio.create_task(upkeep.run_periodically(stop)))
        try:
            await runner.run(stop)
        finally:
            stop.set()
            await probes
            await outbox
            await asyncio.gather(*background)


def _stop_when_failed(stop: asyncio.Event, what: str, task: asyncio.Task[None]) -> None:
    """A server of the notifier that fails (its port taken) stops the whole service, which
    then exits with that error, rather than consuming on without it."""
    if not task.cancelled() and task.exception() is not None:
        log.error("%s failed (%s); stopping the notifier", what, task.exception())
        stop.set()


def _privacy_tasks(
    settings: NotifierSettings, adapters: Adapters, stop: asyncio.Event
) -> list[asyncio.Task[None]]:
    """Sent-log retention, and the consumer of erasure requests (issue #18)."""
    tasks = [
        asyncio.create_task(
            run_retention(
                adapters.sentlog,
                keep=timedelta(days=settings.sentlog_retention_days),
                every=timedelta(hours=1),
                stop=stop,
            )
        )
    ]
    hasher = settings.privacy.hasher()
    if hasher is None:
        log.warning(
            "PRIVACY_HASH_KEY unset: sent-log recipients are not hashed and erasure requests"
            " (%s) are not consumed",
            settings.kafka.topics.privacy,
        )
        return tasks
    consumer = erasure_consumer(
        settings.kafka,
        group_id=f"{settings.group_id}.privacy",
        producer=adapters.producer,
        eraser=NotifierEraser(adapters.sentlog, hasher),
    )
    tasks.append(asyncio.create_task(consumer.run(stop)))
    return tasks


def use_event_loop(kind: EventLoop) -> None:
    """The loop ``asyncio.run`` creates from here on (the process's ``__main__`` and the
    benches; tests run in pytest's loop). uvloop: every mail is a few futures,
    callbacks and a socket write and read on the loop, and a poll's Kafka fetch,
    produce and sent-log round trips more; in libuv's C loop the whole notice path took
    5 % fewer instructions per outcome (callgrind, the backlog mix in process, 1,180 K
    → 1,117 K), and the service ~5-12 % less CPU per notice, aiokafka running on it too."""
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy() if kind is EventLoop.UVLOOP else None)
