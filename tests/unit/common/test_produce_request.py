"""Produce requests encoded in one pass (``libs/common/kafka/produce_request.py``): the
same bytes as aiokafka's encoding, the same structs, and the aiokafka internals the
override relies on still where it expects them."""

from __future__ import annotations

import inspect
import io

import aiokafka
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.producer.sender import Sender, SendProduceReqHandler
from aiokafka.protocol.produce import (
    ProduceRequest,
    ProduceRequest_v2,
    ProduceRequest_v3,
    ProduceRequest_v7,
    ProduceRequest_v8,
    ProduceResponse_v4,
    ProduceResponse_v5,
    ProduceResponse_v6,
    ProduceResponse_v7,
    ProduceResponse_v8,
)
from hypothesis import given
from hypothesis import strategies as st

from libs.common.kafka.produce_request import (
    FAST_RESPONSE_SCHEMA,
    ONE_PASS_SCHEMA,
    OnePassProduceRequest,
    _OnePassProduceHandler,
    _OnePassSender,
    encode_produce,
    one_pass_requests,
)

_batches = st.one_of(st.binary(max_size=300), st.binary(max_size=300).map(bytearray))
_topics = st.lists(
    st.tuples(
        st.text(max_size=20),
        st.lists(st.tuples(st.integers(0, 2**31 - 1), _batches), max_size=4),
    ),
    max_size=3,
)


@given(
    transactional_id=st.one_of(st.none(), st.text(max_size=10)),
    required_acks=st.sampled_from([-1, 0, 1]),
    timeout=st.integers(0, 2**31 - 1),
    topics=_topics,
)
def test_the_one_pass_body_is_aiokafkas(transactional_id, required_acks, timeout, topics):
    ours = encode_produce(transactional_id, required_acks, timeout, topics)
    theirs = ProduceRequest_v7(transactional_id, required_acks, timeout, topics).encode()
    assert ours == theirs


@given(topics=_topics)
def test_every_negotiated_version_encodes_as_aiokafkas(topics):
    for version in range(0, 9):
        versions = {0: (0, version)}
        ours = OnePassProduceRequest(None, -1, 30_000, topics).prepare(versions)
        theirs = ProduceRequest(None, -1, 30_000, topics).prepare(versions)
        assert type(ours).API_VERSION == type(theirs).API_VERSION
        assert issubclass(type(ours).RESPONSE_TYPE, type(theirs).RESPONSE_TYPE)
        fast = type(theirs).RESPONSE_TYPE.SCHEMA is FAST_RESPONSE_SCHEMA  # v5-v7
        assert (type(ours).RESPONSE_TYPE is type(theirs).RESPONSE_TYPE) is not fast
        assert isinstance(ours, type(theirs))
        assert ours.encode() == theirs.encode()
        header = ours.build_request_header(correlation_id=7, client_id="c")
        assert header.encode() == theirs.build_request_header(7, "c").encode()


def test_a_batch_of_none_encodes_as_aiokafkas():
    topics = [("t", [(0, None), (1, b"x")])]
    assert encode_produce(None, 1, 5, topics) == ProduceRequest_v3(None, 1, 5, topics).encode()


def test_aiokafkas_internals_are_where_the_override_expects_them():
    assert aiokafka.__version__ == "0.14.0"  # the version read; pyproject pins it
    assert ProduceRequest_v3.SCHEMA is ONE_PASS_SCHEMA is ProduceRequest_v8.SCHEMA
    assert ProduceResponse_v5.SCHEMA is FAST_RESPONSE_SCHEMA is ProduceResponse_v7.SCHEMA
    assert ProduceResponse_v6.SCHEMA is FAST_RESPONSE_SCHEMA
    assert ProduceResponse_v4.SCHEMA is not FAST_RESPONSE_SCHEMA
    assert ProduceResponse_v8.SCHEMA is not FAST_RESPONSE_SCHEMA
    # the newest version aiokafka sends, so the one a modern broker answers
    assert ProduceRequest_v7.RESPONSE_TYPE is ProduceResponse_v7
    assert ProduceRequest_v2.SCHEMA is not ONE_PASS_SCHEMA
    # the sender's produce step, which _OnePassSender repeats with its own handler
    source = inspect.getsource(Sender._send_produce_req)
    assert "handler = SendProduceReqHandler(self, batches)" in source
    assert "self._in_flight.remove(node_id)" in source
    assert "self._muted_partitions.remove(tp)" in source
    assert issubclass(_OnePassProduceHandler, SendProduceReqHandler)
    request = ProduceRequest("tx", -1, 100, [])
    assert (request._transactional_id, request._required_acks, request._timeout) == (
        "tx",
        -1,
        100,
    )
    assert request._topics == []


async def test_a_producer_is_put_on_the_one_pass_sender():
    producer = AIOKafkaProducer(bootstrap_servers="localhost:1")
    assert one_pass_requests(producer) is producer
    assert type(producer._sender) is _OnePassSender
    await producer.stop()


_int16 = st.integers(-(2**15), 2**15 - 1)
_int32 = st.integers(-(2**31), 2**31 - 1)
_int64 = st.integers(-(2**63), 2**63 - 1)
_partition_responses = st.one_of(
    st.none(), st.lists(st.tuples(_int32, _int16, _int64, _int64, _int64), max_size=6)
)
_response_topics = st.one_of(
    st.none(),
    st.lists(
        st.tuples(st.one_of(st.none(), st.text(max_size=30)), _partition_responses), max_size=3
    ),
)


def _response_class(version: int) -> type:
    request = OnePassProduceRequest(None, -1, 30_000, []).prepare({0: (0, version)})
    return type(request).RESPONSE_TYPE


@given(topics=_response_topics, throttle=_int32, version=st.sampled_from([5, 6, 7]))
def test_a_response_decodes_as_aiokafka_decodes_it(topics, throttle, version):
    theirs_class = {5: ProduceResponse_v5, 6: ProduceResponse_v6, 7: ProduceResponse_v7}[version]
    body = theirs_class(topics, throttle).encode()
    ours = _response_class(version).decode(io.BytesIO(body))
    theirs = theirs_class.decode(io.BytesIO(body))
    assert isinstance(ours, theirs_class)
    assert vars(ours) == vars(theirs)
    assert version == ours.API_VERSION
    assert ours == theirs


def test_a_response_after_its_header_decodes_from_where_the_header_ends():
    """aiokafka's connection reads the response header from the same BytesIO first."""
    body = ProduceResponse_v7([("t", [(0, 0, 41, -1, 0), (3, 0, 7, -1, 0)])], 0).encode()
    data = io.BytesIO(b"\x00\x00\x00\x07" + body)
    data.read(4)
    decoded = _response_class(7).decode(data)
    assert decoded.topics == [("t", [(0, 0, 41, -1, 0), (3, 0, 7, -1, 0)])]
    assert _response_class(7).decode(body).throttle_time_ms == 0  # bytes, too


@given(topics=_response_topics, cut=st.integers(0, 200), data=st.data())
def test_a_short_or_bad_response_fails_as_aiokafkas_decoding_does(topics, cut, data):
    body = ProduceResponse_v7(topics, 5).encode()
    body = body[: min(cut, len(body) - 1)] if data.draw(st.booleans()) else body
    body = body.replace(b"t", b"\xff") if data.draw(st.booleans()) else body
    try:
        expected = ProduceResponse_v7.decode(io.BytesIO(body))
    except Exception as exc:  # whatever aiokafka raises, ours raises
        with pytest.raises(type(exc)):
            _response_class(7).decode(io.BytesIO(body))
        return
    assert vars(_response_class(7).decode(io.BytesIO(body))) == vars(expected)


@given(body=st.binary(max_size=120))
def test_any_bytes_decode_or_fail_as_aiokafka_decodes_them(body):
    try:
        expected = ProduceResponse_v7.decode(io.BytesIO(body))
    except Exception as exc:
        with pytest.raises(type(exc)):
            _response_class(7).decode(io.BytesIO(body))
        return
    assert vars(_response_class(7).decode(io.BytesIO(body))) == vars(expected)
