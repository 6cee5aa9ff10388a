"""The router's /docs and /redoc work offline: their assets come from an installed package.

(FastAPI's defaults load Swagger UI and ReDoc from a CDN: a blank page without the internet.)
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from services.router.app import create_app


@pytest.fixture
def client() -> TestClient:
    # No `with`: the lifespan (Kafka, database) does not start; the pages need neither.
    return TestClient(create_app())


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_doc_pages_load_every_asset_from_the_router_itself(client, page):
    response = client.get(page)
    assert response.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert assets, f"{page} names no assets"
    for asset in assets:
        assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
        served = client.get(asset)
        assert served.status_code == 200, f"{asset}: {served.status_code}"
        assert len(served.content) > 1000, f"{asset} is not the real asset"


def test_the_openapi_document_the_pages_read_is_served(client):
    assert client.get("/openapi.json").json()["info"]["title"] == "omnidesk router"
