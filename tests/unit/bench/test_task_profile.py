"""bench.task_profile: py-spy's raw samples split by asyncio task and by library."""

from __future__ import annotations

from bench.task_profile import START_UP, profile_of, summary

MAIN = "thread (100): MainThread;0x7f (libc.so.6);_run_module_as_main (<frozen runpy>:198)"
UVLOOP = (
    "Runner.run (asyncio/runners.py:118);run_forever (loop.c:33192);Handle__run (loop.c:70959)"
    ";task_step (_asynciomodule.c:2990);task_step_impl (_asynciomodule.c:2704)"
)
ASYNCIO = "BaseEventLoop._run_once (asyncio/base_events.py:1922);Handle._run (asyncio/events.py:80)"
RUNNER = "ConsumerRunner.run (libs/common/kafka/consumer.py:214)"
SAMPLES = [
    # the interactions consumer routing a poll: our code, then SQLAlchemy
    f"{MAIN};{UVLOOP};{RUNNER};BatchHandler.__call__ (services/router/consumer.py:65)"
    ";route_batch (services/router/service/interactions.py:103) 50",
    f"{MAIN};{UVLOOP};{RUNNER};BatchHandler.__call__ (services/router/consumer.py:65)"
    ";Session.execute (sqlalchemy/orm/session.py:2300) 20",
    # the relay, inside the garbage collector
    f"{MAIN};{UVLOOP};OutboxRelay.run (services/router/relay.py:200)"
    ";gc_collect_main (libpython3.11.so.1.0) 10",
    # the selector loop's protocol callback (asyncio, the notifier)
    f"{MAIN};{ASYNCIO};_SelectorSocketTransport._read_ready (asyncio/selector_events.py:1)"
    ";ReplyQueue.data_received (services/notifier/smtp.py:490) 5",
    # start-up
    f"{MAIN};<module> (services/router/__main__.py:9);<module> (sqlalchemy/__init__.py:13) 5",
    # the SQLite thread: running, then waiting on its queue (not CPU)
    "thread (101);thread_run (libpython3.11.so.1.0);Thread.run (threading.py:982)"
    ";_connection_worker_thread (aiosqlite/core.py:59);sqlite3VdbeExec (libsqlite3.so) 10",
    "thread (101);thread_run (libpython3.11.so.1.0);Thread.run (threading.py:982)"
    ";_connection_worker_thread (aiosqlite/core.py:59);_queue_SimpleQueue_get (_queue.c:1)"
    ";PyThread_acquire_lock_timed (libpython3.11.so.1.0);0x7f (libc.so.6) 99",
    # the event loop waiting in epoll
    f"{MAIN};{UVLOOP.split(';')[0]};run_forever (loop.c:33192);uv__io_poll (linux.c:1)"
    ";epoll_pwait (libc.so.6) 99",
]


def test_samples_are_split_by_task_and_by_library() -> None:
    profile = profile_of(line + "\n" for line in SAMPLES)
    assert profile.samples == 298
    assert profile.waiting == 198
    routing = f"{RUNNER.rsplit(':', 1)[0]}) → BatchHandler.__call__ (services/router/consumer.py)"
    assert profile.by_task == {
        routing: 70,
        "OutboxRelay.run (services/router/relay.py)": 10,
        "ReplyQueue.data_received (services/notifier/smtp.py)": 5,
        START_UP: 5,
        "thread: _connection_worker_thread (aiosqlite/core.py)": 10,
    }
    assert profile.by_category["our code"] == 55
    assert profile.by_category["SQLAlchemy"] == 20 + 5  # the start-up's import too
    assert profile.by_category["GC"] == 10
    assert profile.by_category["SQLite"] == 10


def test_shares_convert_to_microseconds_per_interaction_without_the_start_up() -> None:
    figures = summary(profile_of(SAMPLES), cpu_s_per_1000=0.5)
    by_task = {row["name"]: row for row in figures["by_task"]}
    relay = by_task["OutboxRelay.run (services/router/relay.py)"]
    assert relay["share_pct"] == 10.0  # of the 100 CPU samples
    assert relay["us_per_interaction"] == round(500 * 10 / 95, 1)  # 0.5 ms over 95 running
