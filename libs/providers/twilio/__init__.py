"""twilio: inbound webhook verification and parsing, outbound request building."""

from libs.providers.twilio import inbound, outbound
from libs.providers.twilio.inbound import PROVIDER, normalise, verify

__all__ = ["PROVIDER", "inbound", "normalise", "outbound", "verify"]
