"""Fixtures of the sources tests: a tiny static catalog and a Sentinel Hub stub."""

from __future__ import annotations

import sys
from pathlib import Path

import pystac
import pytest
from odc.geo.geom import box

sys.path.insert(0, str(Path(__file__).parent))

import scene
from sh_stub import ShStub


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """catalog.json of the default scene (both UTM zones, both sides of 2022-01-25)."""
    return scene.write_catalog(tmp_path_factory.mktemp("scene"), scene.default_specs())


@pytest.fixture(scope="session")
def items(catalog: Path) -> list[pystac.Item]:
    return list(pystac.Catalog.from_file(str(catalog)).get_items(recursive=True))


@pytest.fixture
def aoi():  # type: ignore[no-untyped-def]
    return box(*scene.AOI_32748, "EPSG:32748")


@pytest.fixture
def sh_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Isolate sentinelhub's config file and session cache; allow http token URLs (tests only)."""
    from sentinelhub import SentinelHubDownloadClient

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.delenv("SH_CLIENT_ID", raising=False)
    monkeypatch.delenv("SH_CLIENT_SECRET", raising=False)
    monkeypatch.delenv("SH_PROFILE", raising=False)
    SentinelHubDownloadClient.clear_cache()
    yield tmp_path
    SentinelHubDownloadClient.clear_cache()


@pytest.fixture
def stub(httpserver, items, sh_env) -> ShStub:  # type: ignore[no-untyped-def]
    s = ShStub(items=items)
    s.install(httpserver)
    return s


@pytest.fixture
def sh_config(httpserver, sh_env):  # type: ignore[no-untyped-def]
    from sentinelhub import SHConfig

    return SHConfig(use_defaults=True, sh_client_id="test-client-id", sh_client_secret="s3cret-value-xyz",
                    sh_base_url=httpserver.url_for("").rstrip("/"), sh_token_url=httpserver.url_for("/oauth/token"))
