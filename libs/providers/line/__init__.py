"""line: inbound webhook verification and parsing, outbound request building."""

from libs.providers.line import inbound, outbound
from libs.providers.line.inbound import PROVIDER, normalise, verify

__all__ = ["PROVIDER", "inbound", "normalise", "outbound", "verify"]
