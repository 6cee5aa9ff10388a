"""Key → partition exactly as Kafka's default partitioner does, at a fraction of the CPU.

Every keyed record goes to ``murmur2(key) & 0x7fffffff % partitions`` (the
Java client's ``Utils.murmur2``, also aiokafka's ``DefaultPartitioner``): all
our producers and any other Kafka client put one customer's events on one
partition, which is what keeps a conversation in order. aiokafka's murmur2
walks the key a byte at a time in Python (~20 µs for a 20-byte key, ~6% of a
webhook request's CPU); this one reads 32-bit words with ``struct`` (~half
that) and remembers recent keys (a customer's messages, a call's events share
one), which then cost a dictionary lookup. Same results: the tests compare it
with aiokafka's on random keys and with the Java client's published values.

A batch (``send_batches``: the relay's rounds, ``EventProducer.send_many``) hashes
its new keys together (``murmur2_many``): a relay round of 500 records over 227
new conversation ids cost 11.1 M instructions to partition one key at a time,
3.3 M so (callgrind, 20 rounds less none; ~35 K less per interaction routed).
"""

from __future__ import annotations

import random
import struct
import sys
from array import array
from collections.abc import Sequence
from itertools import islice

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF
_WORD = struct.Struct("<I")


def murmur2(data: bytes) -> int:
    """MurmurHash2 as Kafka computes it, as an unsigned 32-bit int."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    whole = length & ~3
    for (k,) in _WORD.iter_unpack(data[:whole]):
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    rest = length & 3
    if rest:
        if rest == 3:
            h ^= data[whole + 2] << 16
        if rest >= 2:
            h ^= data[whole + 1] << 8
        h ^= data[whole]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


#: ``murmur2_many``: fewer keys of one length than this are hashed one by one
_LANES_MIN = 8


def murmur2_many(keys: Sequence[bytes]) -> list[int]:
    """``murmur2`` of each key, the keys of one length hashed together: each key's value
    in a 64-bit lane of one Python int, so each step of the hash is one operation on
    the int (C, over all the keys) instead of one per key. Exact: a lane holds a 32-bit
    value, the product by the 32-bit constant fits in its 64 bits, and what a right
    shift brings over from the next lane is masked off. A round of the relay hashes
    ~1 new conversation id (36 bytes) per interaction: ~10.4 µs each one by one on this
    machine, 200 of them together ~1.5 µs each.
    """
    hashes = [0] * len(keys)
    by_length: dict[int, list[int]] = {}
    for index, key in enumerate(keys):
        by_length.setdefault(len(key), []).append(index)
    for length, indexes in by_length.items():
        if len(indexes) < _LANES_MIN or sys.byteorder != "little":  # lanes: little-endian
            for index in indexes:
                hashes[index] = murmur2(keys[index])
            continue
        same = _murmur2_lanes([keys[index] for index in indexes], length)
        for index, value in zip(indexes, same, strict=True):
            hashes[index] = value
    return hashes


_ONE_LANE = (1).to_bytes(8, "little")


def _lanes(values: Sequence[int]) -> int:
    """``values`` (each < 2**32) as the 64-bit lanes of one int, the first the lowest."""
    return int.from_bytes(array("Q", values).tobytes(), "little")


def _murmur2_lanes(keys: list[bytes], length: int) -> list[int]:
    """``murmur2`` of ``keys``, all ``length`` bytes long (see ``murmur2_many``)."""
    count = len(keys)
    ones = int.from_bytes(_ONE_LANE * count, "little")  # 1 in every lane
    mask = ones * _MASK
    h = ones * ((_SEED ^ length) & _MASK)
    whole = length & ~3
    if whole:
        words = array("I")
        assert words.itemsize == 4 and array("Q").itemsize == 8
        words.frombytes(b"".join(keys) if whole == length else b"".join(k[:whole] for k in keys))
        # every word widened to 64 bits at once (C copies, no int per word), then each
        # position's words taken with a stride
        wide = array("I", [0]) * (2 * len(words))
        wide[0::2] = words
        lanes = array("Q")
        lanes.frombytes(wide.tobytes())
        per_key = whole // 4
        for position in range(per_key):
            k = int.from_bytes(lanes[position::per_key].tobytes(), "little")
            k = (k * _M) & mask
            k = (((k ^ (k >> 24)) & mask) * _M) & mask
            h = ((h * _M) & mask) ^ k
    rest = length & 3
    if rest:
        if rest == 3:
            h ^= _lanes([key[whole + 2] for key in keys]) << 16
        if rest >= 2:
            h ^= _lanes([key[whole + 1] for key in keys]) << 8
        h ^= _lanes([key[whole] for key in keys])
        h = (h * _M) & mask
    h = (h ^ (h >> 13)) & mask
    h = (h * _M) & mask
    h = (h ^ (h >> 15)) & mask
    out = array("Q")
    out.frombytes(h.to_bytes(count * 8, "little"))
    return out.tolist()


#: ``KeyPartitioner``: a full cache forgets this fraction of its keys at once (1/n)
_EVICTED_AT_ONCE = 16


class KeyPartitioner:
    """An aiokafka ``partitioner``: the default one's choices, with recent keys cached."""

    #: A conversation's events are published close together, so a few thousand recent
    #: keys catch the repeats; 65,536 held ~15 MB once a backlog had filled it.
    def __init__(self, cache_size: int = 4_096) -> None:
        self._size = max(cache_size, 1)
        #: key → its positive hash, the least recently used first (a hit moves it last)
        self._hashes: dict[bytes, int] = {}

    def __call__(
        self, key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]
    ) -> int:
        if key is None:  # unkeyed: any available partition, as the default partitioner does
            return random.choice(available or all_partitions)
        hashes = self._hashes
        value = hashes.pop(key, None)
        if value is None:
            value = murmur2(key) & 0x7FFFFFFF
            self._make_room(1)
        hashes[key] = value
        return all_partitions[value % len(all_partitions)]

    def partition_all(
        self, keys: Sequence[bytes | None], all_partitions: Sequence[int], available: Sequence[int]
    ) -> list[int]:
        """The partition of each key, as ``__call__`` chooses it one by one, the keys not
        cached hashed together (``murmur2_many``)."""
        hashes = self._hashes
        fresh = [key for key in dict.fromkeys(keys) if key is not None and key not in hashes]
        if len(fresh) >= _LANES_MIN:
            for key, value in zip(fresh, murmur2_many(fresh), strict=True):
                hashes[key] = value & 0x7FFFFFFF
        # ``__call__``'s choice of each key, inlined: a method call a record was ~1 K
        # instructions of the relay's ~2.2 records an interaction routed
        count = len(all_partitions)
        chosen = []
        for key in keys:
            if key is None:
                chosen.append(self(key, all_partitions, available))
                continue
            value = hashes.pop(key, None)
            if value is None:  # fewer than _LANES_MIN new keys: hashed one by one
                value = murmur2(key) & 0x7FFFFFFF
                self._make_room(1)
            hashes[key] = value
            chosen.append(all_partitions[value % count])
        self._make_room(0)  # the batch's keys are the most recent: the oldest others go
        return chosen

    def _make_room(self, count: int) -> None:
        """Forget the least recently used keys so that ``count`` more fit."""
        hashes = self._hashes
        excess = len(hashes) + count - self._size
        if excess > 0:
            # A sixteenth of the cache at once, not one key per new key: iterating from a
            # dict's start walks every slot its deletions emptied there (until a resize
            # compacts it), so evicting one key a time cost ~15 K instructions a new key
            # with the cache full (callgrind: 45.6 -> 31.3 K a new key, murmur2 included)
            excess = max(excess, self._size // _EVICTED_AT_ONCE)
            for key in list(islice(hashes, excess)):
                del hashes[key]
