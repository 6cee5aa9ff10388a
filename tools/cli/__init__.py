"""The ``omnidesk`` operator CLI."""
