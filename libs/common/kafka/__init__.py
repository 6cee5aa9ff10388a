"""Kafka plumbing on aiokafka: producer, consumer runner, topics, local broker."""
