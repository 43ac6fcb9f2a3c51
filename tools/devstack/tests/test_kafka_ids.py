"""The native stack's Kafka cluster ids: the storage tool must never read one as an option."""

from __future__ import annotations

from devstack.kafka import _cluster_id


def test_cluster_ids_never_start_with_a_dash_and_are_22_characters() -> None:
    ids = [_cluster_id() for _ in range(5000)]  # a dash would come first in ~1 in 64
    assert not [i for i in ids if i.startswith("-")]
    assert {len(i) for i in ids} == {22}
    assert len(set(ids)) == len(ids)
