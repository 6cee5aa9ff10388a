"""Kiwi constructor options: resident memory and eval accuracy per variant.

    python -m bench.assistant_kiwi [--kb PATH] [--questions PATH] [--variant NAME]

Each variant runs in a fresh process (RSS is per process): build the analyser
with the variant's options, load the KB, decide every dev question as a first
turn (threshold from the settings), then read VmRSS / VmHWM. Writes
``bench/results/assistant_kiwi.json``. The target is ≤ 300 MB for the service.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import write_result

SHARED = Path(__file__).resolve().parents[2] / "shared/corpus/faq"


def _kiwi(multi: bool, default: bool, typo: bool, **more: Any) -> dict[str, Any]:
    """Complete options (the analyser merges them over its own defaults)."""
    return {
        "load_multi_dict": multi,
        "load_default_dict": default,
        "load_typo_dict": typo,
        "num_workers": 0,
        **more,
    }


#: name → (Kiwi(**options), freed pages returned after the build?). The installed
#: kiwipiepy_model ships the CoNg model only (cong.mdl); 'knlm'/'sbg' need model files
#: the package no longer carries (Kiwi >= 0.22). "chosen" is the service's default.
VARIANTS: dict[str, tuple[dict[str, Any], bool]] = {
    "kiwi_defaults": (_kiwi(True, True, True), False),
    "previous_default": (_kiwi(False, True, True, num_workers=-1), False),
    "previous_default_released": (_kiwi(False, True, True, num_workers=-1), True),
    "with_default_dict": (_kiwi(False, True, False), True),
    "with_typo_dict": (_kiwi(False, False, True), True),
    "no_allomorph": (_kiwi(False, False, False, integrate_allomorph=False), True),
    "cong_global": (_kiwi(False, False, False, model_type="cong-global"), True),
    "chosen_unreleased": (_kiwi(False, False, False), False),
    "chosen": (_kiwi(False, False, False), True),
}


def _status(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(name: str, kb: Path, questions: Path) -> dict[str, Any]:
    """One variant in this process (the service's own loading path: builtin synonyms,
    Kiwi built and every KB version indexed on one thread, pages returned)."""
    options, release = VARIANTS[name]
    import yaml

    from services.assistant.bootstrap import build_policy
    from services.assistant.engine import build_engine
    from services.assistant.evaluation import QuestionSet, evaluate, summary
    from services.assistant.kb.loader import BUILTIN_SYNONYMS, load_kb
    from services.assistant.retrieval.tokens import KoreanAnalyzer
    from services.assistant.settings import AssistantSettings

    baseline = _status("VmRSS")
    started = time.perf_counter()
    loaded = load_kb(kb, base_synonyms=BUILTIN_SYNONYMS)
    assert loaded.kb is not None, loaded.problems
    engine = build_engine(loaded.kb, KoreanAnalyzer(kiwi_options=options, release_memory=release))
    asked = QuestionSet.model_validate(yaml.safe_load(questions.read_text("utf-8")))
    engine.search(asked.questions[0].text)  # Kiwi loads part of its model on first use
    load_s = time.perf_counter() - started
    rss_loaded = _status("VmRSS")
    started = time.perf_counter()
    results = evaluate(
        asked.questions,
        search=engine.search,
        handoff_articles=engine.handoff_articles,
        policy=build_policy(AssistantSettings()),
    )
    per_question_ms = (time.perf_counter() - started) * 1000 / len(asked.questions)
    figures = summary(results)["all"]
    return {
        "options": options,
        "memory_released": release,
        "rss_before_mb": round(baseline, 1),
        "rss_loaded_mb": round(rss_loaded, 1),
        "rss_after_eval_mb": round(_status("VmRSS"), 1),
        "peak_rss_mb": round(_status("VmHWM"), 1),
        "load_s": round(load_s, 2),
        "mean_decision_ms": round(per_question_ms, 2),
        "eval": figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kb", type=Path, default=SHARED / "kb")
    parser.add_argument("--questions", type=Path, default=SHARED / "dev-questions.yaml")
    parser.add_argument("--variant", choices=sorted(VARIANTS), help="measure one, print JSON")
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(measure(args.variant, args.kb, args.questions)))
        return
    figures: dict[str, Any] = {}
    for name in VARIANTS:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.assistant_kiwi",
                "--variant",
                name,
                "--kb",
                str(args.kb),
                "--questions",
                str(args.questions),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        figures[name] = json.loads(out.stdout.strip().splitlines()[-1])
        print(name, json.dumps(figures[name]), flush=True)
    write_result("assistant_kiwi", {"kb": str(args.kb), "variants": figures})


if __name__ == "__main__":
    main()
