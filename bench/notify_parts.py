"""Inclusive instructions per step of the notifier's notice path, under callgrind.

Python 3.11 shows no Python function to callgrind (every frame is the interpreter's
``_PyEval_EvalFrameDefault``), so each step measured is called through a C function
of its own that nothing else on the path calls (``operator.call``, ``starmap``, …):
that C function's inclusive cost in ``callgrind_annotate --inclusive=yes`` is the
step's. A coroutine's steps are each run through its trampoline, so an ``async``
function's cost is the work of all its resumptions (including what it awaits)::

    valgrind --tool=callgrind --callgrind-out-file=/tmp/parts.out \\
        .venv/bin/python -m bench.notify_parts --polls 5 2>/dev/null
    callgrind_annotate --inclusive=yes /tmp/parts.out | grep -E 'starmap_next|…'

The harness is :mod:`bench.notify_instructions`' (the backlog mix); the trampolines
are on for the measured polls only, not the ``--warm`` ones (Jinja's compiles, the
sent-log's statements). The steps and their C functions are printed (``--list``), and
the outcomes counted: K instructions per outcome = inclusive cost / outcomes.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
import itertools
import logging
import operator
from collections.abc import Callable
from typing import Any

from bench import notify_instructions
from libs.common import cloudevents
from libs.common.kafka import producer as producer_module
from libs.common.logging import configure_logging
from services.notifier import compose, handler, mail, rendering, sentlog, smtp, wire
from services.notifier.bootstrap import use_event_loop
from services.notifier.settings import EventLoop

_END = object()


def _via_call(f: Callable[..., Any], *args: Any) -> Any:
    return operator.call(f, *args)


def _via_starmap(f: Callable[..., Any], *args: Any) -> Any:
    return next(itertools.starmap(f, (args,)))


def _via_reduce(f: Callable[..., Any], *args: Any) -> Any:
    return functools.reduce(lambda _a, _b: f(*args), (0, 0))


def _via_accumulate(f: Callable[..., Any], *args: Any) -> Any:
    return list(itertools.accumulate((0, 0), lambda _a, _b: f(*args)))[1]


def _via_calliter(f: Callable[..., Any], *args: Any) -> Any:
    return next(iter(lambda: f(*args), _END))


def _via_methodcaller(f: Callable[..., Any], *args: Any) -> Any:
    return operator.methodcaller("__call__", *args)(f)


def _via_groupby(f: Callable[..., Any], *args: Any) -> Any:
    box: list[Any] = []
    next(itertools.groupby((0,), lambda _: box.append(f(*args))))
    return box[0]


def _boxed(kind: Callable[..., Any]) -> Callable[..., Any]:
    def via(f: Callable[..., Any], *args: Any) -> Any:
        box: list[Any] = []

        def predicate(_: object) -> bool:
            box.append(f(*args))
            return kind is itertools.takewhile  # takewhile: keep; filterfalse/dropwhile: drop

        list(kind(predicate, (0,)))
        return box[0]

    return via


#: Trampoline → the C function callgrind shows for it.
TRAMPOLINES: list[tuple[Callable[..., Any], str]] = [
    (_via_call, "_operator_call"),
    (_via_starmap, "starmap_next"),
    (_via_reduce, "functools_reduce"),
    (_via_accumulate, "accumulate_next"),
    (_via_calliter, "calliter_iternext"),
    (_via_methodcaller, "methodcaller_call"),
    (_via_groupby, "groupby_next"),
    (_boxed(itertools.takewhile), "takewhile_next"),
    (_boxed(itertools.filterfalse), "filterfalse_next"),
    (_boxed(itertools.dropwhile), "dropwhile_next"),
]


class _Done:
    """A coroutine's return: carried out of the trampoline as a value, since a
    ``StopIteration`` raised inside an iterator-based trampoline would end it silently."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _step(f: Callable[..., Any], *args: Any) -> Any:
    try:
        return f(*args)
    except StopIteration as stop:
        return _Done(stop.value)


def _returned(result: Any) -> Any:
    if isinstance(result, _Done):
        raise StopIteration(result.value)
    return result


class _Traced:
    """A coroutine whose every step (send/throw) runs through a trampoline."""

    def __init__(self, coro: Any, via: Callable[..., Any]) -> None:
        self._coro, self._via = coro, via

    def __await__(self) -> _Traced:
        return self

    def __iter__(self) -> _Traced:
        return self

    def __next__(self) -> Any:
        return self.send(None)

    def send(self, value: Any) -> Any:
        return _returned(self._via(_step, self._coro.send, value))

    def throw(self, *exc: Any) -> Any:
        return _returned(self._via(_step, self._coro.throw, *exc))

    def close(self) -> None:
        self._coro.close()


class _Measuring:
    """Off during the warm polls (Jinja's compiles, the sent-log's statements): the steps
    then run untraced, so each trampoline's cost is the measured polls' alone."""

    on = False
    batches = 0


def _patch(owner: Any, name: str, via: Callable[..., Any]) -> None:
    original = getattr(owner, name)
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        def traced(*args: Any, **kwargs: Any) -> Any:
            coro = original(*args, **kwargs)
            return _Traced(coro, via) if _Measuring.on else coro

        setattr(owner, name, traced)
    else:

        @functools.wraps(original)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not _Measuring.on:
                return original(*args, **kwargs)
            return via(functools.partial(original, **kwargs) if kwargs else original, *args)

        setattr(owner, name, wrapped)


#: (label, owner, attribute): each gets the next trampoline.
STEPS: list[tuple[str, Any, str]] = [
    ("decode routing events (Poll.deliveries)", notify_instructions.Poll, "deliveries"),
    ("Composer.mail", compose.Composer, "mail"),
    ("Renderer.render (Jinja)", rendering.Renderer, "render"),
    ("mail.build_mail", mail, "build_mail"),
    ("wire.serialise (MIME bodies)", wire, "serialise"),
    ("outcomes encoded (publish_many)", handler.KafkaOutcomePublisher, "publish_many"),
    ("sent-log claim_many", sentlog.SentLog, "claim_many"),
    ("sent-log finish_many", sentlog.SentLog, "finish_many"),
    ("SmtpPool.send (await until accepted)", smtp.SmtpPool, "send"),
    ("NotificationHandler.handle_batch", handler.NotificationHandler, "handle_batch"),
]

#: ``--steps pipeline``: a poll of the pipeline mix (a web-chat ack and an agent mail
#: per POST) by part: each of its sent-log transactions, the two compositions, the
#: send, the outcomes and the poll's log line.
PIPELINE: list[tuple[str, Any, str]] = [
    ("decode routing events (Poll.deliveries)", notify_instructions.Poll, "deliveries"),
    ("plan_notifications", handler, "plan_notifications"),
    ("sent-log claim_many", sentlog.SentLog, "claim_many"),
    ("sent-log take_rate_slots", sentlog.SentLog, "take_rate_slots"),
    ("sent-log store_webchat", sentlog.SentLog, "store_webchat"),
    ("sent-log finish_many", sentlog.SentLog, "finish_many"),
    ("Composer.mail", compose.Composer, "mail"),
    ("Composer.chat_message", compose.Composer, "chat_message"),
    ("outcomes encoded (publish_many)", handler.KafkaOutcomePublisher, "publish_many"),
    ("logging.Logger.handle (the lines logged)", logging.Logger, "handle"),
]

#: ``--detail``: inside the steps above.
DETAIL: list[tuple[str, Any, str]] = [
    ("KafkaOutcomePublisher._event", handler.KafkaOutcomePublisher, "_event"),
    ("cloudevents.encode (outcomes)", producer_module, "encode"),
    ("NotificationHandler._outcome", handler.NotificationHandler, "_outcome"),
    ("compose.notice_context", compose, "notice_context"),
    ("Composer._meta", compose.Composer, "_meta"),
    ("Renderer._run (one part)", rendering.Renderer, "_run"),
    ("wire._encoded (one body)", wire, "_encoded"),
    ("mail.encode_subject", mail, "encode_subject"),
    ("plan_notifications", handler, "plan_notifications"),
]


def install(steps: list[tuple[str, Any, str]]) -> list[tuple[str, str]]:
    """Patch every step; returns (label, C function) pairs."""
    assert len(steps) <= len(TRAMPOLINES)
    listed = []
    for (label, owner, name), (via, c_name) in zip(steps, TRAMPOLINES, strict=False):
        _patch(owner, name, via)
        listed.append((label, c_name))
    # Imported by name where they are called.
    compose.build_mail = mail.build_mail
    return listed


def _count_warm(warm: int) -> None:
    """Turn the trampolines on once ``warm`` polls were handled (the outermost wrapper)."""
    traced = handler.NotificationHandler.handle_batch

    async def handle_batch(self: Any, deliveries: Any) -> None:
        await traced(self, deliveries)
        _Measuring.batches += 1
        _Measuring.on = _Measuring.batches >= warm

    handler.NotificationHandler.handle_batch = handle_batch  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--polls", type=int, default=5)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--warm", type=int, default=2)
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--detail", action="store_true", help="the steps inside the steps")
    parser.add_argument("--steps", choices=("backlog", "pipeline"), default="backlog")
    parser.add_argument("--mix", choices=sorted(notify_instructions.MIXES), default="backlog")
    args = parser.parse_args()
    steps = PIPELINE if args.steps == "pipeline" else STEPS
    listed = install(DETAIL if args.detail else steps)
    _count_warm(args.warm)
    for label, c_name in listed:
        print(f"{c_name:20} {label}")
    if args.list:
        return
    assert producer_module.encode is cloudevents.encode or args.detail or args.steps != "backlog"
    configure_logging("notifier", level="INFO", fmt="json")
    use_event_loop(EventLoop.UVLOOP)
    result = asyncio.run(
        notify_instructions.run(
            args.polls, args.batch, args.warm, False, args.mix, polls_max=max(args.polls, 5)
        )
    )
    print(result)


if __name__ == "__main__":
    main()
