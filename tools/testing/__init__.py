"""Test support shared by the test suites of every service (no fakes of servers)."""
