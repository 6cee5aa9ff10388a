"""Produce requests encoded in one pass (``libs/common/kafka/produce_request.py``): the
same bytes as aiokafka's encoding, the same structs, and the aiokafka internals the
override relies on still where it expects them."""

from __future__ import annotations

import inspect

import aiokafka
from aiokafka import AIOKafkaProducer
from aiokafka.producer.sender import Sender, SendProduceReqHandler
from aiokafka.protocol.produce import (
    ProduceRequest,
    ProduceRequest_v2,
    ProduceRequest_v3,
    ProduceRequest_v7,
    ProduceRequest_v8,
)
from hypothesis import given
from hypothesis import strategies as st

from libs.common.kafka.produce_request import (
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
        assert type(ours).RESPONSE_TYPE is type(theirs).RESPONSE_TYPE
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
