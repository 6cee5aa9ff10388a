"""kakao: inbound webhook verification and parsing, outbound request building."""

from libs.providers.kakao import inbound, outbound
from libs.providers.kakao.inbound import PROVIDER, normalise, verify

__all__ = ["PROVIDER", "inbound", "normalise", "outbound", "verify"]
