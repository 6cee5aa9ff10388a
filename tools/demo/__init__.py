"""``omnidesk demo``: a realistic scenario through the public interfaces, and its timeline."""
