"""Jinja2 templates per notice and locale: subject, plain text and HTML.

Files live in ``templates/<locale>/<template>.{subject,txt,html}.j2``; a
folder set in ``NOTIFIER_TEMPLATES_DIR`` with the same layout overrides any
of them. HTML is autoescaped; subjects and text are not (they are not HTML),
and header safety is the job of :mod:`services.notifier.mail`. A missing
variable is an error (StrictUndefined), never a silently empty sentence.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import jinja2
import markupsafe
from jinja2.runtime import Context

from libs.common.events import RoutingEvent
from libs.common.records import slot_constructor
from services.notifier.csat import RatingLink
from services.notifier.precompiled import Render, precompiled_for

BUILTIN_TEMPLATES = Path(__file__).parent / "templates"


class RenderError(Exception):
    """A template is missing or broken: retrying will not help."""


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str | None


#: a rendering's result without its generated __init__ (records.py)
_rendered = slot_constructor(Rendered)


class Renderer:
    def __init__(
        self,
        *,
        override_dir: Path | None = None,
        default_locale: str = "en",
        display_timezone: str = "UTC",
        precompiled: bool = True,
    ) -> None:
        self._default_locale = default_locale
        self._fast = precompiled  # False: every part by Jinja (the tests' reference)
        self._zone = ZoneInfo(display_timezone)
        self._env = _environment(override_dir)
        # A notice shows its due time in its text and its HTML (astimezone + strftime,
        # ~3 µs): formatted once. The result depends only on the instant, which equal
        # datetimes share whatever their zone.
        self._env.filters["local_time"] = functools.lru_cache(maxsize=256)(self._local_time)
        self._env.filters["duration"] = duration_text
        self._env.filters["nl2br"] = nl2br
        # Shown twice per acknowledgement too (text and HTML; ~2.5 µs: a zone lookup,
        # astimezone, strftime): formatted once per (instant, zone, locale).
        self._env.filters["promise_time"] = functools.lru_cache(maxsize=256)(promise_time)
        # (template, part, locale) → compiled template, None: no such part (HTML is
        # optional). Chosen and compiled once per process, not once per notice.
        self._chosen: dict[tuple[str, str, str], jinja2.Template | None] = {}
        self._global_names: dict[str | None, frozenset[str]] = {}  # by template name
        #: Template name → its Python rendering (:mod:`services.notifier.precompiled`), for
        #: the sources those were written from.
        self._precompiled: dict[str | None, Render] = {}
        self._filters = self._env.filters

    def render(self, template: str, locale: str, context: dict[str, Any]) -> Rendered:
        values = self._values(locale, context)
        try:
            subject = self._render_one(template, "subject", locale, values)
            text = self._render_one(template, "txt", locale, values)
            html = self._render_optional(template, "html", locale, values)
        except jinja2.TemplateError as exc:
            raise RenderError(f"template {locale}/{template}: {exc}") from exc
        return _rendered(" ".join(subject.split()), text, html)

    def render_text(self, template: str, locale: str, context: dict[str, Any]) -> str:
        try:
            return self._render_one(template, "txt", locale, self._values(locale, context))
        except jinja2.TemplateError as exc:
            raise RenderError(f"template {locale}/{template}: {exc}") from exc

    def _render_one(self, template: str, part: str, locale: str, values: dict[str, Any]) -> str:
        chosen = self._choose(template, part, locale)
        if chosen is None:
            raise jinja2.TemplatesNotFound(self._names(template, part, locale))
        return self._run(chosen, values)

    def _render_optional(
        self, template: str, part: str, locale: str, values: dict[str, Any]
    ) -> str | None:
        chosen = self._choose(template, part, locale)
        return None if chosen is None else self._run(chosen, values)

    def _values(self, locale: str, context: dict[str, Any]) -> dict[str, Any]:
        """A template's variables: the environment's globals, ``locale`` and the notice's
        context — built once per notice and shared by its subject, text and HTML."""
        return {**self._env.globals, "locale": locale, **context}

    def _run(self, chosen: jinja2.Template, values: dict[str, Any]) -> str:
        """``chosen.render(values)`` without copying ``values`` and the globals into a
        fresh dict per part (``shared=True``: the dict is the context's parent as is;
        what a template assigns goes to its own context, never into ``values``). Three
        parts per mail made that copy ~15 % of writing one (issue #16 profile). Errors
        go through ``handle_exception`` as in ``render``: template line numbers."""
        precompiled = self._precompiled.get(chosen.name)
        if precompiled is not None:
            try:
                return precompiled(values, self._filters)
            except Exception:  # noqa: S110 - Jinja renders it, or says what is wrong
                pass
        # As ``chosen.new_context(values, shared=True)``, with the names of the template's
        # globals taken once (``Context`` makes a set of them; from the template's
        # ChainMap that was ~1 µs of the ~3 a context costs, three contexts per mail).
        env = self._env
        context = env.context_class(
            env,
            values,
            chosen.name,
            chosen.blocks,
            globals=self._global_names[chosen.name],  # type: ignore[arg-type]  # Context takes a set
        )
        try:
            return self._env.concat(chosen.root_render_func(context))  # type: ignore[attr-defined]
        except Exception:
            self._env.handle_exception()
            raise  # handle_exception always raises; for the type checker

    def _choose(self, template: str, part: str, locale: str) -> jinja2.Template | None:
        key = (template, part, locale)
        if key not in self._chosen:
            try:
                chosen = self._env.select_template(self._names(template, part, locale))
            except jinja2.TemplatesNotFound:
                chosen = None
            if chosen is not None:
                self._global_names[chosen.name] = frozenset(chosen.globals)
                precompiled = (
                    precompiled_for(self._env, chosen.name)  # type: ignore[arg-type]  # loaded: named
                    if self._fast
                    else None
                )
                if precompiled is not None:
                    self._precompiled[chosen.name] = precompiled
            self._chosen[key] = chosen
        return self._chosen[key]

    def _names(self, template: str, part: str, locale: str) -> list[str]:
        names = [f"{locale}/{template}.{part}.j2"]
        if locale != self._default_locale:
            names.append(f"{self._default_locale}/{template}.{part}.j2")
        return names

    def _local_time(self, value: datetime | None) -> str:
        if value is None:
            return ""
        return value.astimezone(self._zone).strftime("%Y-%m-%d %H:%M %Z")


def template_context(
    event: RoutingEvent,
    *,
    recipient_name: str | None,
    brand: str,
    rating_links: list[RatingLink] | None = None,
) -> dict[str, Any]:
    """What every template may use; event-specific fields are read from ``event``."""
    conversation = event.conversation
    customer = conversation.customer
    return {
        "event": event,
        "event_type": event.ce_type,
        "conversation": conversation,
        "reference": conversation.reference,
        "ticket_subject": conversation.subject or "",
        "recipient_name": recipient_name or "",
        "customer_name": customer.display_name or customer.email or customer.phone or "",
        "brand": brand,
        "rating_links": rating_links or [],
    }


def duration_text(minutes: int | None, locale: str = "en") -> str:
    """30 → "30 minutes" / "30분"; 120 → "2 hours" / "2시간"."""
    if minutes is None:
        return ""
    hours, rest = divmod(minutes, 60)
    if locale == "ko":
        return f"{hours}시간" + (f" {rest}분" if rest else "") if hours else f"{rest}분"
    if not hours:
        return f"{rest} minute{'s' if rest != 1 else ''}"
    text = f"{hours} hour{'s' if hours != 1 else ''}"
    return text + (f" {rest} minute{'s' if rest != 1 else ''}" if rest else "")


KO_WEEKDAYS = ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일")


def promise_time(value: datetime, timezone: str, locale: str = "en") -> str:
    """A due time in the desk's calendar zone: "09:30 Monday KST" / "월요일 09:30 (KST)"."""
    local = value.astimezone(ZoneInfo(timezone))
    zone = local.strftime("%Z")
    if locale == "ko":
        return f"{KO_WEEKDAYS[local.weekday()]} {local:%H:%M} ({zone})"
    return f"{local:%H:%M} {local:%A} {zone}"


class KeptGlobalsContext(Context):
    """Jinja's ``Context`` with the names of the template's globals taken once per
    globals mapping, not copied into a new set per context: ``Context`` makes
    ``set(globals)`` each time, from an ``{% include %}``'s template a ``ChainMap``
    (Python-level iteration). Jinja only reads ``globals_keys`` (a set difference, for
    ``{% import %}``), so a shared frozenset serves. The globals are fixed at start-up
    (the environment's; no template is loaded with globals of its own), so the names
    of a mapping do not change. Rendering the backlog's mails (callgrind, 1,200 mails):
    see the commit."""

    _names: ClassVar[dict[int, tuple[object, frozenset[str]]]] = {}

    def __init__(
        self,
        environment: jinja2.Environment,
        parent: dict[str, Any],
        name: str | None,
        blocks: dict[str, Any],
        globals: Any = None,
    ) -> None:
        super().__init__(environment, parent, name, blocks)  # no globals: no set copied
        self.globals_keys = _names_of(globals)  # type: ignore[assignment]


def _names_of(globals_: Any) -> frozenset[str]:
    if globals_ is None:
        return frozenset()
    if isinstance(globals_, frozenset):
        return globals_
    kept = KeptGlobalsContext._names.get(id(globals_))
    if kept is None or kept[0] is not globals_:  # the mapping is held: its id stays its own
        kept = KeptGlobalsContext._names[id(globals_)] = (globals_, frozenset(globals_))
    return kept[1]


def _environment(override_dir: Path | None) -> jinja2.Environment:
    folders = [str(override_dir)] if override_dir else []
    folders.append(str(BUILTIN_TEMPLATES))
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        # Called with the template's name for every context (three per mail: ~1 µs of
        # lower() and endswith() each); the names are a fixed set, so decided once each.
        autoescape=functools.lru_cache(maxsize=None)(
            jinja2.select_autoescape(
                enabled_extensions=("html.j2",), default_for_string=False, default=False
            )
        ),
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # templates change with a restart, not by a stat() per notice
        # A plain dict, not the 400-entry LRU cache (a lock and a reorder per lookup):
        # ``{% extends %}`` and ``{% include %}`` look a template up on every render,
        # and the templates are a fixed set of a few dozen.
        cache_size=-1,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.context_class = KeptGlobalsContext
    return environment


def nl2br(value: str) -> markupsafe.Markup:
    """Escape, then keep the writer's line breaks (agent replies in HTML)."""
    escaped = markupsafe.escape(value)
    return markupsafe.Markup("<br>\n").join(escaped.split("\n"))


def slack_escape(text: str) -> str:
    """Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
