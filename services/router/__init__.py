"""The router: contacts, threading, classification, assignment, SLA clocks (issue #6)."""
