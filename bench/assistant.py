"""Assistant answer decision: p50/p99 per question on one core, and RSS with the KB loaded.

    python -m bench.assistant [--rounds 20] [--kb PATH] [--questions PATH]

Decides every dev question as a first turn (language, rules, retrieval,
confidence) ``rounds`` times, pinned to one CPU where the OS allows; the
process's resident memory is read after loading Kiwi and the KB and again
after the run. Targets (architecture §8): p99 < 50 ms, ≤ 300 MB.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import yaml

from bench.common import latency_summary_ms, write_result

SHARED = Path(__file__).resolve().parents[2] / "shared/corpus/faq"


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--kb", type=Path, default=SHARED / "kb")
    parser.add_argument("--questions", type=Path, default=SHARED / "dev-questions.yaml")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    from services.assistant.bootstrap import build_policy
    from services.assistant.domain.decide import ConversationState, decide_turn
    from services.assistant.engine import build_engine
    from services.assistant.kb.loader import BUILTIN_SYNONYMS, load_kb
    from services.assistant.retrieval.tokens import KoreanAnalyzer
    from services.assistant.settings import AssistantSettings

    started = time.perf_counter()
    loaded = load_kb(args.kb, base_synonyms=BUILTIN_SYNONYMS)
    assert loaded.kb is not None, loaded.problems
    engine = build_engine(loaded.kb, KoreanAnalyzer())
    load_s = time.perf_counter() - started
    policy = build_policy(AssistantSettings())
    texts = [q["text"] for q in yaml.safe_load(args.questions.read_text("utf-8"))["questions"]]
    engine.search(texts[0])  # Kiwi loads part of its model on first use
    rss_loaded = rss_mb()

    timings: list[float] = []
    for _ in range(args.rounds):
        for text in texts:
            t0 = time.perf_counter()
            decide_turn(
                text,
                ConversationState(),
                search=engine.search,
                handoff_articles=engine.handoff_articles,
                policy=policy,
            )
            timings.append(time.perf_counter() - t0)
    figures = {
        "decision": latency_summary_ms(timings),
        "questions": len(texts),
        "rounds": args.rounds,
        "kb_articles": len(loaded.kb.articles),
        "load_s": round(load_s, 2),
        "rss_mb_kb_loaded": round(rss_loaded, 1),
        "rss_mb_after_run": round(rss_mb(), 1),
        "targets": {"p99_ms": 50, "rss_mb": 300},
    }
    path = write_result("assistant", figures)
    d = figures["decision"]
    print(
        f"decision p50 {d['p50_ms']} ms, p99 {d['p99_ms']} ms, max {d['max_ms']} ms "
        f"over {d['count']}; RSS {figures['rss_mb_kb_loaded']} MB loaded, "
        f"{figures['rss_mb_after_run']} MB after; load {figures['load_s']} s → {path}"
    )


if __name__ == "__main__":
    main()
