"""webchat: inbound webhook verification and parsing, outbound request building."""

from libs.providers.webchat import inbound
from libs.providers.webchat.inbound import PROVIDER, normalise, verify

__all__ = ["PROVIDER", "inbound", "normalise", "verify"]
