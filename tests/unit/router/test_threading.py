from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from libs.common.events.interaction import (
    BounceInfo,
    CallDetails,
    Channel,
    Direction,
    Flags,
    InteractionKind,
    ThreadHints,
)
from services.router.domain.lifecycle import ConversationStatus
from services.router.domain.threading import (
    ConversationRef,
    ThreadAction,
    ThreadCandidates,
    ThreadingPolicy,
    email_reference_ids,
    thread_interaction,
)
from tests.unit.router.factories import T0, interaction

POLICY = ThreadingPolicy(
    reopen_window=timedelta(days=7),
    phone_window=timedelta(hours=2),
    chat_window=timedelta(hours=24),
)


def ref(
    cid="conv-1",
    contact="c1",
    channel=Channel.EMAIL,
    status=ConversationStatus.OPEN,
    last=T0 - timedelta(hours=1),
    resolved=None,
) -> ConversationRef:
    return ConversationRef(cid, contact, channel, status, last, resolved)


def decide(inter, candidates, contact="c1"):
    return thread_interaction(inter, contact, candidates, inter.occurred_at, POLICY)


def test_email_reply_joins_by_in_reply_to():
    mail = interaction(thread=ThreadHints(in_reply_to=["<m1@x>"]))
    d = decide(mail, ThreadCandidates(by_message_id={"m1@x": ref()}))
    assert d.action is ThreadAction.JOIN and d.conversation.id == "conv-1"


def test_references_are_searched_newest_first():
    mail = interaction(thread=ThreadHints(references=["old@x", "new@x"]))
    assert email_reference_ids(mail) == ["new@x", "old@x"]
    d = decide(mail, ThreadCandidates(by_message_id={"old@x": ref("a"), "new@x": ref("b")}))
    assert d.conversation.id == "b"


def test_subject_token_of_another_customer_never_joins():
    mail = interaction(thread=ThreadHints(subject_token="C-AAAA"))
    d = decide(mail, ThreadCandidates(by_subject_token=ref(contact="someone-else")))
    assert d.action is ThreadAction.OPEN


def test_subject_token_of_same_customer_joins():
    mail = interaction(thread=ThreadHints(subject_token="C-AAAA"))
    assert decide(mail, ThreadCandidates(by_subject_token=ref())).action is ThreadAction.JOIN


def test_bounce_attaches_to_the_conversation_of_the_bounced_mail():
    bounce = interaction(
        email="mailer-daemon@mx.example",
        flags=Flags(bounce=True),
        kind=InteractionKind.DELIVERY_STATUS,
        bounce=BounceInfo(original_message_id="<out-1@desk>"),
    )
    target = ref(contact="customer")
    d = decide(bounce, ThreadCandidates(by_message_id={"out-1@desk": target}), contact="customer")
    assert d.action is ThreadAction.JOIN and d.conversation is target


def test_chat_joins_by_provider_thread():
    chat = interaction(Channel.CHAT, email=None, handle="slack:U1")
    d = decide(chat, ThreadCandidates(by_provider_thread=ref(channel=Channel.CHAT)))
    assert d.action is ThreadAction.JOIN


def test_chat_without_thread_joins_recent_chat_only_within_window():
    chat = interaction(Channel.CHAT, email=None, handle="slack:U1")
    recent = ref(channel=Channel.CHAT, last=T0 - timedelta(hours=3))
    stale = ref(channel=Channel.CHAT, last=T0 - timedelta(days=3))
    assert decide(chat, ThreadCandidates(latest_on_channel=recent)).action is ThreadAction.JOIN
    assert decide(chat, ThreadCandidates(latest_on_channel=stale)).action is ThreadAction.OPEN


def test_call_legs_join_by_group_and_number_within_window():
    call = interaction(
        Channel.PHONE,
        email=None,
        phone="+821012345678",
        call=CallDetails(call_id="CA2", group_id="G1", status="ringing"),
    )
    assert (
        decide(call, ThreadCandidates(by_call_group=ref(channel=Channel.PHONE))).action
        is ThreadAction.JOIN
    )
    near = ref(channel=Channel.PHONE, last=T0 - timedelta(minutes=30))
    far = ref(channel=Channel.PHONE, last=T0 - timedelta(hours=5))
    assert decide(call, ThreadCandidates(latest_on_channel=near)).action is ThreadAction.JOIN
    assert decide(call, ThreadCandidates(latest_on_channel=far)).action is ThreadAction.OPEN


def test_customer_message_reopens_within_window_else_opens_new():
    mail = interaction(thread=ThreadHints(in_reply_to=["m1@x"]))
    recent = ref(status=ConversationStatus.RESOLVED, resolved=T0 - timedelta(days=1))
    old = ref(status=ConversationStatus.RESOLVED, resolved=T0 - timedelta(days=30))
    assert (
        decide(mail, ThreadCandidates(by_message_id={"m1@x": recent})).action is ThreadAction.REOPEN
    )
    assert decide(mail, ThreadCandidates(by_message_id={"m1@x": old})).action is ThreadAction.OPEN


def test_auto_reply_and_outbound_never_reopen():
    resolved = ref(status=ConversationStatus.RESOLVED, resolved=T0 - timedelta(hours=1))
    auto = interaction(thread=ThreadHints(in_reply_to=["m1@x"]), flags=Flags(auto_reply=True))
    out = interaction(thread=ThreadHints(in_reply_to=["m1@x"]), direction=Direction.OUTBOUND)
    for mail in (auto, out):
        d = decide(mail, ThreadCandidates(by_message_id={"m1@x": resolved}))
        assert d.action is ThreadAction.JOIN and d.conversation is resolved


contacts = st.sampled_from(["c1", "c2", "c3"])
refs = st.builds(
    ConversationRef,
    id=st.text(min_size=1, max_size=5),
    contact_id=contacts,
    channel=st.sampled_from(list(Channel)),
    status=st.sampled_from(list(ConversationStatus)),
    last_activity_at=st.just(T0 - timedelta(minutes=10)),
    resolved_at=st.none(),
)


@given(
    contact=contacts,
    channel=st.sampled_from(list(Channel)),
    by_id=st.dictionaries(st.sampled_from(["m1", "m2", "m3"]), refs, max_size=3),
    token=st.none() | refs,
    thread=st.none() | refs,
    group=st.none() | refs,
    latest=st.none() | refs,
    token_hint=st.booleans(),
)
def test_threading_never_joins_two_contacts(
    contact, channel, by_id, token, thread, group, latest, token_hint
):
    hints = ThreadHints(
        in_reply_to=["m1", "m2"],
        references=["m3"],
        subject_token="C-X" if token_hint else None,
        provider_thread_id="t",
    )
    inter = interaction(
        channel,
        email="x@y.z",
        phone="+821012345678",
        thread=hints,
        call=CallDetails(call_id="c", group_id="g", status="ringing"),
    )
    candidates = ThreadCandidates(by_id, token, thread, group, latest)
    decision = thread_interaction(inter, contact, candidates, T0, POLICY)
    if decision.conversation is not None:
        assert decision.conversation.contact_id == contact
