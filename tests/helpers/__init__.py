"""Helpers shared by the test folders (one copy each): topic reading, signed webhook requests."""
