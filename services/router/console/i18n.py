"""The console's message catalogue (ko, en) and locale choice; templates use ``t('key')``."""

from __future__ import annotations

from collections.abc import Callable

LOCALES = ("ko", "en")
DEFAULT_LOCALE = "en"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "app": "omnidesk console",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "api_key": "API key",
        "sign_in_failed": "Unknown or revoked API key.",
        "inbox": "Inbox",
        "agents": "Agents",
        "reports": "Reports",
        "language_switch": "한국어",
        "channel": "Channel",
        "customer": "Customer",
        "language": "Language",
        "priority": "Priority",
        "queue": "Queue",
        "status": "Status",
        "assignee": "Assignee",
        "sla": "SLA",
        "subject": "Subject",
        "activity": "Last activity",
        "breached": "Breached",
        "any": "any",
        "filter": "Filter",
        "no_conversations": "No conversations.",
        "timeline": "Timeline",
        "reply": "Reply",
        "send": "Send",
        "transfer": "Transfer",
        "to_agent": "to agent",
        "to_queue": "to queue",
        "note": "Note",
        "resolve": "Resolve",
        "reopen": "Reopen",
        "contact": "Contact",
        "identities": "Identities",
        "previous": "Previous conversations",
        "attachments": "Attachments and recordings",
        "no_attachments": "None.",
        "not_your_queue": "Only agents of this queue see its attachments.",
        "recording": "Call recording",
        "bytes_gone": "not kept",
        "state": "State",
        "load": "Load / capacity",
        "skills": "Skills",
        "set_status": "Set status",
        "requeue": "Re-queue open work",
        "forbidden": "You cannot open this page.",
        "forbidden_detail": "It belongs to a queue you do not work in.",
        "not_found": "Not found.",
        "csrf_refused": "The form was refused: its security token is missing or wrong. Reload.",
        "action_refused": "Refused",
        "volume": "Volume by channel and hour of week (UTC)",
        "first_response": "First response time against the promise",
        "sla_trend": "SLA attainment by day",
        "csat_trend": "CSAT by day",
        "resolution_rate": "Resolution rate",
        "period_days": "Days",
        "download_csv": "CSV",
        "promise": "promise",
        "mine": "Mine",
        "waiting": "Waiting",
        "live": "live",
        "delivered": "delivered",
    },
    "ko": {
        "app": "omnidesk 상담 콘솔",
        "sign_in": "로그인",
        "sign_out": "로그아웃",
        "api_key": "API 키",
        "sign_in_failed": "알 수 없거나 폐기된 API 키입니다.",
        "inbox": "받은 문의",
        "agents": "상담원",
        "reports": "보고서",
        "language_switch": "English",
        "channel": "채널",
        "customer": "고객",
        "language": "언어",
        "priority": "우선순위",
        "queue": "대기열",
        "status": "상태",
        "assignee": "담당자",
        "sla": "SLA",
        "subject": "제목",
        "activity": "최근 활동",
        "breached": "SLA 위반",
        "any": "전체",
        "filter": "필터",
        "no_conversations": "문의가 없습니다.",
        "timeline": "타임라인",
        "reply": "답변",
        "send": "보내기",
        "transfer": "이관",
        "to_agent": "상담원에게",
        "to_queue": "대기열로",
        "note": "메모",
        "resolve": "해결",
        "reopen": "다시 열기",
        "contact": "고객 정보",
        "identities": "연결된 계정",
        "previous": "이전 문의",
        "attachments": "첨부 파일 및 녹음",
        "no_attachments": "없음",
        "not_your_queue": "이 큐의 상담원만 첨부 파일을 볼 수 있습니다.",
        "recording": "통화 녹음",
        "bytes_gone": "보관되지 않음",
        "state": "상태",
        "load": "처리 중 / 용량",
        "skills": "기술",
        "set_status": "상태 변경",
        "requeue": "진행 중 문의 재배정",
        "forbidden": "이 페이지를 열 수 없습니다.",
        "forbidden_detail": "담당하지 않는 대기열의 문의입니다.",
        "not_found": "찾을 수 없습니다.",
        "csrf_refused": "보안 토큰이 없거나 올바르지 않아 요청을 거부했습니다. 새로고침하세요.",
        "action_refused": "거부됨",
        "volume": "채널 및 요일·시간대별 문의량 (UTC)",
        "first_response": "첫 응답 시간 분포와 약속 시간",
        "sla_trend": "일별 SLA 달성률",
        "csat_trend": "일별 고객 만족도",
        "resolution_rate": "해결률",
        "period_days": "기간(일)",
        "download_csv": "CSV",
        "promise": "약속",
        "mine": "내 문의",
        "waiting": "대기 중",
        "live": "실시간",
        "delivered": "전달됨",
    },
}


def choose_locale(preferred: str | None, agent_locale: str | None) -> str:
    """The switch (cookie) wins, then the agent's locale (``ko-KR`` → ``ko``)."""
    for candidate in (preferred, agent_locale):
        base = (candidate or "").split("-")[0].lower()
        if base in LOCALES:
            return base
    return DEFAULT_LOCALE


def translator(locale: str) -> Callable[[str], str]:
    catalogue = MESSAGES[locale]
    fallback = MESSAGES[DEFAULT_LOCALE]

    def t(key: str) -> str:
        return catalogue.get(key) or fallback.get(key) or key

    return t
