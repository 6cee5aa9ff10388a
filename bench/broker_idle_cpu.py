"""The broker's CPU with the pipeline's services started and idle (nothing sent).

``bench.pipeline``'s idle phase showed the Kafka broker at ~10 % of both cores with
every service idle, more than at 500/s: most of its work is what idle clients make it
do (fetches held ``fetch_max_wait_ms`` and answered empty, heartbeats, metadata
refreshes). This starts the same system as ``bench.pipeline`` (``build_system``: the
same services, topics, groups and settings), waits ``--warm`` seconds, then reports
the CPU-seconds a second of the broker and of every service over ``--seconds``
(``bench.cpu_accounting``). ``--alone`` first measures the broker with no services
(the floor: its own timers, the KRaft controller's idle records).

``--requests``: then the requests the idle clients send, per client id and API, over
``--seconds`` more: the broker's request log (``LocalKafka.log_requests``) is turned on
for that window and counted (the local broker of ``OMNIDESK_HOME`` /
``OMNIDESK_KAFKA_PORT``; logging every request costs the broker CPU, so it is not on
while the CPU is measured).

Run it against a broker of your own:

    OMNIDESK_HOME=/tmp/me OMNIDESK_KAFKA_PORT=19142 OMNIDESK_KAFKA_CONTROLLER_PORT=19143 \
    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19142 python -m bench.broker_idle_cpu --alone --requests
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.common import bootstrap_servers, delete_run_topics
from bench.cpu_accounting import CpuMeter, broker_pid, cpu_split
from bench.pipeline import agents_online, build_system, meter, start, stop
from bench.smtp_sink import SmtpSink
from tools.local_broker import LocalKafka

#: One line of ``kafka.request.logger`` at DEBUG (Kafka 4.1): the log's time stamp, then
#: the request header's client id and API name.
REQUEST_LINE = re.compile(
    r'^\[(?P<at>[^\]]+)\] DEBUG Completed request:\{.*?"clientId":"(?P<client>[^"]*)",'
    r'"requestApiKeyName":"(?P<api>[^"]*)"'
)
LOG_TIME = "%Y-%m-%d %H:%M:%S"  # the log's stamp without its milliseconds (local time)
LOG_FOLLOWS_S = 7.0  # log4j2 re-reads its file within monitorInterval (5 s)


def count_requests(lines: Iterable[str], since: str, until: str) -> Counter[tuple[str, str]]:
    """Requests per (client id, API) in a broker log's request lines stamped in
    [``since``, ``until``) (``LOG_TIME`` strings: stamps sort as text)."""
    counts: Counter[tuple[str, str]] = Counter()
    for line in lines:
        found = REQUEST_LINE.match(line)
        if found and since <= found["at"][: len(since)] < until:
            counts[(found["client"], found["api"])] += 1
    return counts


def requests_per_second(broker: LocalKafka, seconds: float) -> dict[str, float]:
    """What the broker's clients ask it a second, per ``client API``, over ``seconds``."""
    broker.log_requests(True)
    try:
        time.sleep(LOG_FOLLOWS_S)
        since = time.strftime(LOG_TIME)
        time.sleep(seconds)
        until = time.strftime(LOG_TIME)
    finally:
        broker.log_requests(False)
    window = (time.mktime(time.strptime(until, LOG_TIME))) - time.mktime(
        time.strptime(since, LOG_TIME)
    )
    with broker.log_file.open(errors="replace") as log:
        counts = count_requests(log, since, until)
    return {f"{client} {api}": round(n / window, 2) for (client, api), n in counts.most_common()}


def per_second(meter_: CpuMeter, seconds: float) -> dict[str, Any]:
    """CPU-seconds a second of each metered process over ``seconds`` of nothing sent."""
    before = meter_.sample()
    time.sleep(seconds)
    split = cpu_split(before, meter_.sample(), messages=0, cpus=os.cpu_count() or 1)
    split["load_average_1m"] = os.getloadavg()[0]
    return split


def run(seconds: float, warm: float, alone: bool, requests: bool) -> dict[str, Any]:
    bootstrap = bootstrap_servers()
    result: dict[str, Any] = {"bootstrap": bootstrap, "seconds": seconds}
    if alone:
        pid = broker_pid(bootstrap)
        result["broker_alone"] = per_second(CpuMeter({"kafka broker": pid}), seconds)
    with SmtpSink(keep=False) as sink, tempfile.TemporaryDirectory(prefix="bkr-idle-") as home:
        system = build_system(Path(home), sink.port, bootstrap)
        try:
            start(system, None)
            agents_online(system)
            time.sleep(warm)
            result["services_idle"] = per_second(meter(system, sink, bootstrap), seconds)
            if requests:
                result["requests_per_s"] = requests_per_second(LocalKafka(), seconds)
        finally:
            stop(system)
            delete_run_topics(system.kafka)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warm", type=float, default=10.0)
    parser.add_argument("--alone", action="store_true", help="the broker alone first")
    parser.add_argument(
        "--requests", action="store_true", help="then count requests (the local broker's log)"
    )
    args = parser.parse_args()
    print(json.dumps(run(args.seconds, args.warm, args.alone, args.requests), indent=1))


if __name__ == "__main__":
    main()
