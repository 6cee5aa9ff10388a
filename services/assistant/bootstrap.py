"""Composition root: settings → KB engine → handler → consumer, reloader and probes beside.

``python -m services.assistant`` runs :func:`main`; tests build the handler
with their own engine source and publisher through :func:`build_handler`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import datetime, timedelta

from libs.common.events.base import utc_now
from libs.common.kafka.consumer import ConsumerRunner
from libs.common.kafka.producer import EventProducer
from libs.common.probes import serve_probes
from services.assistant.domain.decide import Policy
from services.assistant.engine import Engine
from services.assistant.handler import HandlerConfig, Publisher, TurnHandler
from services.assistant.kb.loader import BUILTIN_SYNONYMS
from services.assistant.kb.reloader import KbReloader
from services.assistant.retrieval.tokens import KoreanAnalyzer
from services.assistant.settings import AssistantSettings

log = logging.getLogger(__name__)


def build_policy(settings: AssistantSettings) -> Policy:
    return Policy(
        threshold=settings.threshold,
        max_message_chars=settings.max_message_chars,
        max_answers=settings.max_answers,
    )


def handler_config(settings: AssistantSettings) -> HandlerConfig:
    return HandlerConfig(
        topic=settings.kafka.topics.assistant,
        source=settings.source,
        policy=build_policy(settings),
        quiet_timeout=timedelta(seconds=settings.quiet_timeout_s),
    )


def build_reloader(
    settings: AssistantSettings, analyzer: KoreanAnalyzer, builder: Executor | None = None
) -> KbReloader:
    return KbReloader(
        settings.kb_path,
        base_synonyms=BUILTIN_SYNONYMS if settings.builtin_synonyms else None,
        analyzer=analyzer,
        builder=builder,
    )


def build_handler(
    settings: AssistantSettings,
    *,
    engine: Callable[[], Engine],
    publisher: Publisher,
    clock: Callable[[], datetime] = utc_now,
) -> TurnHandler:
    return TurnHandler(handler_config(settings), engine=engine, publisher=publisher, clock=clock)


async def run(
    settings: AssistantSettings,
    stop: asyncio.Event,
    *,
    analyzer: KoreanAnalyzer | None = None,
) -> None:
    # One thread builds Kiwi and every KB version (memory: see KbReloader).
    builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-build")
    try:
        await _serve(settings, stop, analyzer, builder)
    finally:
        builder.shutdown(wait=False, cancel_futures=True)


async def _serve(
    settings: AssistantSettings,
    stop: asyncio.Event,
    analyzer: KoreanAnalyzer | None,
    builder: ThreadPoolExecutor,
) -> None:
    loop = asyncio.get_running_loop()
    analyzer = analyzer or await loop.run_in_executor(
        builder, lambda: KoreanAnalyzer(kiwi_options=settings.kiwi_options())
    )
    reloader = build_reloader(settings, analyzer, builder)
    await reloader.load_initial()  # a bad KB at start-up is fatal: nothing to serve
    producer = EventProducer(settings.kafka, client_id=settings.service_name)
    await producer.start()
    try:
        runner = ConsumerRunner(
            settings.kafka,
            topics=[settings.kafka.topics.routing],
            group_id=settings.group_id,
            stage="assistant.turn",
            handler=build_handler(settings, engine=lambda: reloader.current, publisher=producer),
            producer=producer,
            client_id=settings.service_name,
        )
        checks = {"kafka": producer.ready}
        probes = asyncio.create_task(
            serve_probes(
                lambda: checks, host=settings.probe_host, port=settings.probe_port, stop=stop
            )
        )
        watcher = asyncio.create_task(reloader.watch(stop, poll_s=settings.kb_poll_s))
        log.info(
            "assistant consuming %s, answering on %s; KB %s; threshold %.3f",
            settings.kafka.topics.routing,
            settings.kafka.topics.assistant,
            settings.kb_path,
            settings.threshold,
        )
        try:
            await runner.run(stop)
        finally:
            stop.set()
            await asyncio.gather(probes, watcher, return_exceptions=True)
    finally:
        await producer.stop()
