"""``omnidesk assistant …``: evaluate on a labelled question set; unanswered questions."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import typer
import yaml

app = typer.Typer(help="The assistant: evaluation and the unanswered-questions report.")


@app.command("eval")
def eval_command(
    questions: Path = typer.Argument(..., help="YAML with questions: text, lang, expect."),
    kb: Path | None = typer.Option(
        None, help="KB folder, or one file (default: ASSISTANT_KB_PATH)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print results and summary as JSON."),
    threshold: float | None = typer.Option(None, help="Override ASSISTANT_THRESHOLD."),
    calibrate: bool = typer.Option(
        False,
        help="Also calibrate the threshold on this set and cross-validate it "
        "(20 x stratified 5-fold).",
    ),
) -> None:
    """Decide every question as a first turn and report per language."""
    from services.assistant.domain.decide import Policy
    from services.assistant.evaluation import (
        QuestionSet,
        cached,
        cross_validate,
        evaluate,
        summary,
    )
    from services.assistant.evaluation import calibrate as calibrate_threshold

    engine, settings = _engine(kb)
    question_set = QuestionSet.model_validate(yaml.safe_load(questions.read_text("utf-8")))
    policy = Policy(
        threshold if threshold is not None else settings.threshold,
        settings.max_message_chars,
        settings.max_answers,
    )
    search = cached(engine.search)
    args: dict[str, Any] = {"search": search, "handoff_articles": engine.handoff_articles}
    results = evaluate(question_set.questions, policy=policy, **args)
    report: dict[str, Any] = {"threshold": policy.threshold, **summary(results)}
    report["unanswered_groups"] = _groups([r.text for r in results if r.answered is None], engine)
    if calibrate:
        report["calibrated_threshold"] = calibrate_threshold(
            question_set.questions, base=policy, **args
        )
        report["cross_validation"] = cross_validate(question_set.questions, base=policy, **args)
    if as_json:
        payload = {"results": [r.model_dump() for r in results], "summary": report}
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    _print_human(report)


@app.command("unanswered")
def unanswered_command(
    idle_s: float = typer.Option(2.0, help="Stop reading after this long without a record."),
    kb: Path | None = typer.Option(None, help="KB folder or file (default: ASSISTANT_KB_PATH)."),
    similarity: float = typer.Option(0.4, help="Cosine similarity that joins a group."),
) -> None:
    """Low-confidence handoffs on the assistant topic, grouped by similarity, largest first."""
    from libs.common.cloudevents import decode
    from libs.common.events.assistant import AssistantHandedOff
    from libs.common.kafka.reading import read_all

    engine, settings = _engine(kb)
    records = asyncio.run(read_all(settings.kafka, settings.kafka.topics.assistant, idle_s))
    texts = []
    for record in records:
        event = decode(record.headers, record.value)
        if isinstance(event.data, AssistantHandedOff) and event.data.reason == "low_confidence":
            texts.append(event.data.customer_text)
    for group in _groups(texts, engine, similarity):
        typer.echo(f"{group['size']:4d}  {group['example']}")


def _engine(kb: Path | None):  # type: ignore[no-untyped-def]
    from services.assistant.engine import build_engine
    from services.assistant.kb.loader import BUILTIN_SYNONYMS, load_kb
    from services.assistant.retrieval.tokens import KoreanAnalyzer
    from services.assistant.settings import AssistantSettings

    settings = AssistantSettings()
    path = kb or settings.kb_path
    loaded = load_kb(path, base_synonyms=BUILTIN_SYNONYMS if settings.builtin_synonyms else None)
    if loaded.kb is None:
        for problem in loaded.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(1)
    return build_engine(loaded.kb, KoreanAnalyzer(kiwi_options=settings.kiwi_options())), settings


def _groups(texts: list[str], engine, similarity: float = 0.4) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    from libs.common.clustering import group_questions

    groups = group_questions(
        texts,
        terms=engine.retriever.tokenizer.terms,
        idf=engine.retriever.idf,
        similarity=similarity,
    )
    return [{"size": g.size, "example": g.example, "questions": list(g.questions)} for g in groups]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _print_tally(name: str, t: dict[str, Any]) -> None:
    typer.echo(
        f"{name}: answerable {t['answerable']}: answered correctly {t['answered_correctly']} "
        f"({_pct(t['correct_rate'])}), answered wrongly {t['answered_wrongly']}, "
        f"handed off {t['handed_off']}; out-of-scope {t['out_of_scope']}: handed off "
        f"{t['out_of_scope_handed_off']} ({_pct(t['out_of_scope_handoff_rate'])}); "
        f"wrong among answers given {_pct(t['wrong_rate'])}"
    )


def _print_human(report: dict[str, Any]) -> None:
    typer.echo(f"threshold {report['threshold']:.4f}")
    for lang, t in report["by_language"].items():
        _print_tally(lang, t)
    _print_tally("all", report["all"])
    targets = report["targets"]
    typer.echo(
        f"targets: correct ≥ {_pct(targets['correct_rate_min'])}, wrong ≤ "
        f"{_pct(targets['wrong_rate_max'])} of answers, out-of-scope handed off ≥ "
        f"{_pct(targets['out_of_scope_handoff_rate_min'])}"
    )
    if "cross_validation" in report:
        typer.echo(f"calibrated on this set: {report['calibrated_threshold']:.4f}")
        cv = report["cross_validation"]
        spread = cv["thresholds"]
        typer.echo(
            f"cross-validation ({cv['method']}; calibrated thresholds {spread['min']:.4f}"
            f" to {spread['max']:.4f}, median {spread['median']:.4f}), pooled:"
        )
        for lang, t in cv["pooled"]["by_language"].items():
            _print_tally(f"  {lang}", t)
        _print_tally("  all", cv["pooled"]["all"])
    typer.echo("unanswered, grouped:")
    for group in report["unanswered_groups"][:10]:
        typer.echo(f"{group['size']:4d}  {group['example']}")
