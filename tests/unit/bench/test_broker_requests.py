"""Counting what clients ask the broker: its request log, per client id and API, in a window;
and the local broker's switch for that log (read back from the file the broker follows)."""

from __future__ import annotations

from pathlib import Path

from bench.broker_idle_cpu import count_requests
from tools.local_broker import LocalKafka

# Kafka 4.1's kafka.request.logger at DEBUG (shortened after the header, as the real lines
# go on with the whole response).
FETCH = (
    '[2026-11-30 15:40:12,247] DEBUG Completed request:{"isForwarded":false,"requestHeader":'
    '{"requestApiKey":1,"requestApiVersion":11,"correlationId":475,"clientId":"router",'
    '"requestApiKeyName":"FETCH"},"request":"","response":{"throttleTimeMs":0}'
    " (kafka.request.logger)"
)
HEARTBEAT = (
    '[2026-11-30 15:40:13,001] DEBUG Completed request:{"isForwarded":false,"requestHeader":'
    '{"requestApiKey":12,"requestApiVersion":4,"correlationId":9,"clientId":"notifier",'
    '"requestApiKeyName":"HEARTBEAT"},"request":{"groupId":"g"} (kafka.request.logger)'
)


def test_requests_are_counted_per_client_and_api_inside_the_window_only() -> None:
    late = FETCH.replace("15:40:12,247", "15:40:20,000")
    early = FETCH.replace("15:40:12,247", "15:40:11,999")
    lines = [FETCH, FETCH, HEARTBEAT, late, early, "[2026-11-30 15:40:12,500] INFO other (x)"]

    counts = count_requests(lines, "2026-11-30 15:40:12", "2026-11-30 15:40:20")

    assert counts == {("router", "FETCH"): 2, ("notifier", "HEARTBEAT"): 1}


def _request_level(broker: LocalKafka) -> str:
    text = (broker.state_dir / "log4j2.xml").read_text()
    return text.split('name="kafka.request.logger" level="', 1)[1].split('"', 1)[0]


def test_the_request_log_is_off_at_start_and_switched_in_the_file_the_broker_follows(
    tmp_path: Path,
) -> None:
    broker = LocalKafka(home=tmp_path, cache=tmp_path / "cache", port=19092, controller_port=19093)
    broker._write_config()
    assert _request_level(broker) == "WARN"
    assert 'monitorInterval="5"' in (broker.state_dir / "log4j2.xml").read_text()

    broker.log_requests(True)
    assert _request_level(broker) == "DEBUG"
    broker.log_requests(False)
    assert _request_level(broker) == "WARN"


def test_idle_fetch_cost_rates_leave_out_a_process_not_sampled_in_both() -> None:
    from bench.cpu_accounting import TICKS_PER_S, CpuSample
    from bench.idle_fetch_cost import cpu_ms_per_s

    ticks: dict[str, int | None] = {"kafka broker": 100, "consumers": 10, "gone": 5}
    before = CpuSample(at=10.0, ticks=ticks, machine_busy_ticks=0)
    later: dict[str, int | None] = {
        "kafka broker": 100 + TICKS_PER_S,
        "consumers": 10,
        "gone": None,
    }
    after = CpuSample(at=12.0, ticks=later, machine_busy_ticks=0)

    assert cpu_ms_per_s(before, after) == {"kafka broker": 500.0, "consumers": 0.0}
