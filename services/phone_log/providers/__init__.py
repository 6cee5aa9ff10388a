"""One module per phone provider: pure parsing of its payload into :class:`CallFacts`."""
