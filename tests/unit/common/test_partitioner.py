"""KeyPartitioner chooses exactly what Kafka's default partitioner chooses."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.kafka.partitioner import KeyPartitioner, murmur2, murmur2_many

#: Kafka's own test values (clients UtilsTest.testMurmur2), signed as Java returns them.
JAVA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def _signed(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def test_the_java_clients_published_values():
    assert {key: _signed(murmur2(key)) for key in JAVA_VECTORS} == JAVA_VECTORS


@settings(max_examples=2000, derandomize=True, deadline=None)
@given(st.binary(max_size=80))
def test_same_hash_as_aiokafka(key: bytes):
    assert murmur2(key) == aiokafka_murmur2(key) & 0xFFFFFFFF


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.binary(min_size=0, max_size=40), st.integers(1, 64))
def test_same_partition_as_the_default_partitioner(key: bytes, count: int):
    partitions = list(range(count))
    ours = KeyPartitioner(cache_size=4)
    expected = DefaultPartitioner()(key, partitions, partitions)
    assert ours(key, partitions, partitions) == expected
    assert ours(key, partitions, partitions) == expected  # cached the second time


def test_unkeyed_records_go_to_an_available_partition():
    ours = KeyPartitioner()
    assert {ours(None, [0, 1, 2, 3], [2]) for _ in range(20)} == {2}
    assert {ours(None, [0, 1], []) for _ in range(50)} <= {0, 1}


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.binary(max_size=45), max_size=60), st.integers(0, 45))
def test_hashing_many_keys_together_gives_each_keys_hash(keys: list[bytes], length: int):
    # keys of one length (hashed in lanes) mixed with keys of other lengths (one by one)
    same_length = [bytes((i + j) % 256 for j in range(length)) for i in range(20)]
    mixed = keys + same_length + keys[:3]
    assert murmur2_many(mixed) == [murmur2(key) for key in mixed]


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.binary(min_size=36, max_size=36), st.binary(max_size=12))),
    st.integers(1, 64),
    st.integers(1, 40),
)
def test_partitions_of_a_batch_are_the_default_partitioners(
    keys: list[bytes | None], count: int, cache_size: int
):
    partitions = list(range(count))
    ours = KeyPartitioner(cache_size=cache_size)
    expected = DefaultPartitioner()
    chosen = ours.partition_all(keys, partitions, partitions)
    assert [c for c, key in zip(chosen, keys, strict=True) if key is not None] == [
        expected(key, partitions, partitions) for key in keys if key is not None
    ]
    assert len(ours._hashes) <= cache_size  # the cache stays bounded
    again = ours.partition_all(keys, partitions, partitions)  # partly cached now
    assert [c for c, key in zip(again, keys, strict=True) if key is not None] == [
        c for c, key in zip(chosen, keys, strict=True) if key is not None
    ]


def test_a_full_cache_forgets_its_least_recently_used_keys_a_sixteenth_at_once():
    ours = KeyPartitioner(cache_size=64)
    partitions = list(range(6))
    keys = [b"phone:+82105550%04d" % n for n in range(200)]
    for key in keys[:64]:
        ours(key, partitions, partitions)
    ours(keys[0], partitions, partitions)  # used again: now the most recent
    ours(keys[64], partitions, partitions)  # full: the 4 least recently used go at once
    assert len(ours._hashes) == 64 - 4 + 1
    assert list(ours._hashes)[-2:] == [keys[0], keys[64]]
    assert not any(key in ours._hashes for key in keys[1:5])
    for key in keys[65:]:
        ours(key, partitions, partitions)
        assert len(ours._hashes) <= 64  # bounded all along
    assert list(ours._hashes)[-1] == keys[-1]
