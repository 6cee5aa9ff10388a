"""whatsapp: inbound webhook verification and parsing, outbound request building."""

from libs.providers.whatsapp import inbound, outbound
from libs.providers.whatsapp.inbound import PROVIDER, normalise, verify

__all__ = ["PROVIDER", "inbound", "normalise", "outbound", "verify"]
