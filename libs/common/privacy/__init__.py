"""Personal data under control: identifier hashing and the erasure contract (issue #18)."""
