"""Operator and developer tooling: the `omnidesk` CLI, the demo, local servers for tests.

May import services and libs; services and libs never import tools.
"""
