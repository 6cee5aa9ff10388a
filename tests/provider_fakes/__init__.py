"""Strict local fixtures of the providers' outbound APIs (one module per provider).

Each module's docstring cites the reference sections it follows. Start them all
with :class:`ProviderFakes` (in-process uvicorn on free 127.0.0.1 ports); point an
integration at one with ``fakes.integration(Provider.X)`` — its ``api_base_url``
is the only thing that differs from production.
"""

from tests.provider_fakes.base import FakeProvider, Recorded
from tests.provider_fakes.server import ProviderFakes

__all__ = ["FakeProvider", "ProviderFakes", "Recorded"]
