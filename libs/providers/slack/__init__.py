"""slack: inbound webhook verification and parsing, outbound request building."""

from libs.providers.slack import inbound, outbound
from libs.providers.slack.inbound import PROVIDER, normalise, verify

__all__ = ["PROVIDER", "inbound", "normalise", "outbound", "verify"]
