"""Instructions of one part of a routing decision, under callgrind.

Callgrind shows only C frames on this Python build, so a Python function's cost is
taken by running it inside ``operator.call`` (a C function) and collecting there only:
``--part module:Qualified.name`` is replaced, for the measured polls, by a wrapper
that calls it inside ``operator.call`` (a coroutine function: each step of its
coroutine, ``coro.send`` inside ``operator.call``, so the waits between steps are not
counted). The polls are ``bench.router_poll_callgrind``'s (polls of 400 on a warmed
SQLite store); a part's inclusive instructions per interaction are the total over
the measured polls divided by their interactions::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/part.out \\
        .venv/bin/python -m bench.router_decision_parts \\
        --part services.router.store.outbox:OutboxWriter.add
    callgrind_annotate /tmp/part.out | grep TOTALS   # / (polls * 400)

The part must not call another bracketed part (one at a time) nor ``operator.call``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import inspect
import operator
import tempfile
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from bench.router_poll_callgrind import POLL, warmed_router
from services.router.service.interactions import route_batch

#: calls a function of no arguments inside the C function callgrind collects in
Trampoline = Callable[[Callable[[], Any]], Any]


def _in_operator_call(call: Callable[[], Any]) -> Any:
    return operator.call(call)


@types.coroutine
def _stepped(coro: Coroutine[Any, Any, Any], trampoline: Trampoline) -> Generator[Any, Any, Any]:
    """Await ``coro`` with each of its steps inside ``trampoline``."""
    value = None
    while True:
        try:
            future = trampoline(functools.partial(coro.send, value))
        except StopIteration as stop:
            return stop.value
        value = yield future


def _bracketed(function: Callable[..., Any], trampoline: Trampoline) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def stepped(*args: Any, **kwargs: Any) -> Any:
            return await _stepped(function(*args, **kwargs), trampoline)

        return stepped

    @functools.wraps(function)
    def called(*args: Any, **kwargs: Any) -> Any:
        return trampoline(functools.partial(function, *args, **kwargs))

    return called


def patched(part: str, trampoline: Trampoline = _in_operator_call) -> Callable[[], None]:
    """Replace ``module:Qualified.name`` (and the module-level name other modules
    imported) by its wrapper calling it through ``trampoline``; returns the undo."""
    module_name, _, qualname = part.partition(":")
    owner: Any = importlib.import_module(module_name)
    *path, name = qualname.split(".")
    for attribute in path:
        owner = getattr(owner, attribute)
    original = vars(owner)[name]
    wrapper = _bracketed(original, trampoline)
    undo: list[tuple[Any, str, Any]] = [(owner, name, original)]
    setattr(owner, name, wrapper)
    if not path:  # a function: also where it was imported by name
        for module in list(importlib.sys.modules.values()):  # type: ignore[attr-defined]
            if module is not None and getattr(module, name, None) is original:
                undo.append((module, name, original))
                setattr(module, name, wrapper)

    def restore() -> None:
        for where, attribute, value in undo:
            setattr(where, attribute, value)

    return restore


def main(args: argparse.Namespace) -> None:
    loop = asyncio.new_event_loop()
    with (
        tempfile.TemporaryDirectory() as folder,
        warmed_router(loop, folder, size=POLL) as (ctx, traffic),
    ):
        restore = patched(args.part)
        try:
            for _ in range(args.polls):
                loop.run_until_complete(route_batch(ctx, traffic.poll(POLL)))
        finally:
            restore()
    loop.close()
    print(f"routed {args.polls} measured polls of {POLL}, {args.part} bracketed")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", required=True, help="module:Qualified.name")
    parser.add_argument("--polls", type=int, default=2, help="measured polls of 400")
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())
