"""channeltalk: inbound webhook verification and parsing, outbound request building."""

from libs.providers.channeltalk import inbound, outbound
from libs.providers.channeltalk.inbound import PROVIDER, normalise, verify

__all__ = ["PROVIDER", "inbound", "normalise", "outbound", "verify"]
