"""Attachment lines for the conversation page: links only where they are safe."""

from __future__ import annotations

from services.router.console.attachments import line_of, safe_link, size_text
from services.router.store.models import AttachmentRow


def row(**values: object) -> AttachmentRow:
    base = {
        "id": "att-1",
        "event_id": "ev-1",
        "conversation_id": "c-1",
        "ordinal": 0,
        "kind": "attachment",
        "name": None,
        "content_type": "image/png",
        "size": None,
        "sha256": None,
        "url": None,
        "inline": False,
    }
    return AttachmentRow(**{**base, **values})


def test_only_plain_web_links_are_clickable():
    assert (
        safe_link("https://api.twilio.com/Recordings/RE1")
        == "https://api.twilio.com/Recordings/RE1"
    )
    assert safe_link("javascript:alert(1)") is None
    assert safe_link("data:text/html,<script>") is None
    assert safe_link("https:///no-host") is None
    assert safe_link(None) is None


def test_stored_bytes_download_through_the_console_and_others_link_out():
    stored = line_of(row(name="a.png", sha256="a" * 64, size=2048, url="https://x.example/a"))
    assert stored.download == "/console/attachments/att-1" and stored.external is None
    assert stored.size_text == "2.0 KB"
    linked = line_of(row(kind="recording", url="https://pbx.example.com/vm/1.wav"))
    assert linked.download is None and linked.external == "https://pbx.example.com/vm/1.wav"
    assert linked.label == "attachment-att-1"  # no name given: a stable one
    hostile = line_of(row(url="javascript:alert(1)", name="<b>x</b>"))
    assert hostile.download is None and hostile.external is None
    assert hostile.label == "<b>x</b>"  # left to the template's escaping


def test_sizes_read_naturally():
    assert [size_text(n) for n in (None, 0, 1023, 1536, 5 * 1024 * 1024)] == [
        "",
        "0 B",
        "1023 B",
        "1.5 KB",
        "5.0 MB",
    ]
