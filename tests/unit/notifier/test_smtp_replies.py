"""Reading SMTP replies (RFC 5321 §4.2) off a connection's byte stream, as pipelined
commands produce them: several replies in one segment, one reply across segments,
multi-line replies."""

from __future__ import annotations

import asyncio

import aiosmtplib
import pytest

from services.notifier.smtp import ReplyQueue


class Transport(asyncio.Transport):
    """Just enough transport for the protocol: open until aborted."""

    def __init__(self) -> None:
        super().__init__()
        self.closing = False

    def is_closing(self) -> bool:
        return self.closing

    def abort(self) -> None:
        self.closing = True


async def test_replies_in_one_segment_are_read_in_order():
    replies = ReplyQueue(Transport())
    replies.data_received(
        b"250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
    )
    assert [(await replies.reply()).code for _ in range(3)] == [250, 250, 354]


async def test_a_reply_split_across_segments_waits_for_its_last_line():
    replies = ReplyQueue(Transport())
    replies.data_received(b"250-first\r\n25")
    pending = asyncio.ensure_future(replies.reply())
    await asyncio.sleep(0)
    assert not pending.done()
    replies.data_received(b"0 second\r\n")
    reply = await pending
    assert (reply.code, reply.message) == (250, "first\nsecond")


async def test_a_malformed_line_fails_the_reply_and_drops_the_connection():
    transport = Transport()
    replies = ReplyQueue(transport)
    replies.data_received(b"hello there\r\n")
    with pytest.raises(aiosmtplib.SMTPResponseException, match="Malformed"):
        await replies.reply()
    assert transport.closing and not replies.is_open


async def test_a_lost_connection_fails_the_waiting_reply_as_a_disconnect():
    replies = ReplyQueue(Transport())
    pending = asyncio.ensure_future(replies.reply())
    await asyncio.sleep(0)
    replies.connection_lost(ConnectionResetError())
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await pending


async def test_a_reply_line_seen_before_is_read_as_it_was_the_first_time():
    """One-line replies are remembered by their line: the same code and text each time,
    and the last line of a multi-line reply still carries the lines before it."""
    replies = ReplyQueue(Transport())
    for _ in range(2):
        replies.data_received(b"250 2.1.0 Ok\r\n354 End data\r\n250-first\r\n250 2.1.0 Ok\r\n")
        assert [tuple(await replies.reply()) for _ in range(3)] == [
            (250, "2.1.0 Ok"),
            (354, "End data"),
            (250, "first\n2.1.0 Ok"),
        ]


async def test_a_malformed_line_is_refused_however_many_good_ones_came_before():
    transport = Transport()
    replies = ReplyQueue(transport)
    replies.data_received(b"250 2.1.0 Ok\r\n")
    replies.data_received(b"250 2.1.0 Ok\r\nnot a reply\r\n")
    assert (await replies.reply()).code == 250
    assert (await replies.reply()).code == 250
    with pytest.raises(aiosmtplib.SMTPResponseException, match="Malformed"):
        await replies.reply()
