"""``bench.common.run_topic_names``: a run's clean-up deletes its own topics only, never
the broker-wide ones (the privacy topic, the assistant's) that other runs, the tests'
systems and a developer's ``omnidesk dev up`` on the same broker read."""

from __future__ import annotations

from bench.common import run_topic_names
from libs.common.settings import TopicSettings
from tools.testing.system import run_topics


def test_a_runs_own_topics_and_not_the_shared_ones() -> None:
    topics = run_topics("bench")
    run = topics.interactions.removesuffix(".interactions")

    names = run_topic_names(topics)

    assert sorted(names) == sorted(
        f"{run}.{topic}" for topic in ("interactions", "routing", "notifications", "deadletter")
    )
    assert topics.privacy == "support.privacy.v1" and topics.privacy not in names
    assert topics.assistant not in names


def test_an_assistant_topic_of_the_runs_own_goes_with_it() -> None:
    topics = run_topics("pb")
    run = topics.interactions.removesuffix(".interactions")
    topics = topics.model_copy(update={"assistant": f"{run}.assistant"})

    assert f"{run}.assistant" in run_topic_names(topics)
    assert "support.privacy.v1" not in run_topic_names(topics)


def test_the_broker_wide_names_are_nobodys_run() -> None:
    assert run_topic_names(TopicSettings()) == []
