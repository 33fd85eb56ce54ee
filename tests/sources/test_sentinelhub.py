"""The real sentinelhub client against a local stub of the token, Catalog and Process APIs."""

from __future__ import annotations

import json
from pathlib import Path

import dask
import numpy as np
import pytest

from sarolangun_geo import grid
from sarolangun_geo.errors import (
    BudgetExceededError,
    CorruptAssetError,
    CredentialsError,
    SourceError,
    TileFailureWarning,
    TokenExpiredError,
)
from sarolangun_geo.sources import SentinelHubSource, load_cube
from sarolangun_geo.sources.sentinelhub import CDSE_BASE_URL, CDSE_TOKEN_URL

pytestmark = [pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore:Download rate limit hit")]
PERIOD = ("2022-01-01", "2022-02-28")


def _source(sh_config, tmp_path: Path, **kw) -> SentinelHubSource:  # type: ignore[no-untyped-def]
    kw.setdefault("download_sleep_time", 0.01)
    return SentinelHubSource(sh_config, cache_dir=tmp_path / "shcache", **kw)


def test_sentinelhub__cube_from_process_responses(stub, sh_config, tmp_path, aoi, catalog) -> None:
    src = _source(sh_config, tmp_path)
    ds = load_cube(aoi, *PERIOD, src)
    assert stub.n_process == 0  # lazy: only the catalog was asked
    assert [str(t)[:10] for t in ds.time.values] == ["2022-01-20", "2022-01-30", "2022-02-04"]
    assert set(ds["source"].values) == {"sentinelhub"}
    grid.check_grid(ds, expected=grid.subgrid(aoi))
    assert ds["red"].dtype == np.float32 and ds["scl"].dtype == np.uint8
    xch = ds["red"].chunks[2]
    col0 = round((ds.odc.geobox.affine.c - grid.GRID_X0) / 10)
    assert ((col0 + np.cumsum(xch)[:-1]) % grid.TILE_PX == 0).all()

    sh = ds.compute()
    assert stub.n_process == 6 == src.requests_made  # 3 days x 2 canonical tiles
    assert src.budget.spent() == pytest.approx(6 * stub.pu_per_request)
    ref = load_cube(aoi, *PERIOD, str(catalog)).compute()
    for b in ("blue", "red", "nir", "swir16", "swir22", "scl"):
        a, r = sh[b].values.astype("float64"), ref[b].values.astype("float64")
        assert (np.isnan(a) == np.isnan(r)).all(), b
        close = np.abs(a - r) <= 1.01e-4
        assert close[~np.isnan(r)].mean() > 0.995, b  # identical up to DN rounding and edge resampling


def test_sentinelhub__rerun_is_served_from_cache(stub, sh_config, tmp_path, aoi) -> None:
    load_cube(aoi, *PERIOD, _source(sh_config, tmp_path)).compute()
    before = (stub.n_tokens, stub.n_catalog, stub.n_process)
    src2 = _source(sh_config, tmp_path)
    spent = src2.budget.spent()
    again = load_cube(aoi, *PERIOD, src2).compute()
    assert (stub.n_tokens, stub.n_catalog, stub.n_process) == before  # zero requests
    assert src2.requests_made == 0 and src2.budget.spent() == spent
    assert not np.isnan(again["red"].values).all()


def test_sentinelhub__429_storm_is_retried(stub, sh_config, tmp_path, aoi) -> None:
    stub.fail_429 = 4
    ds = load_cube(aoi, "2022-01-20", "2022-01-20", _source(sh_config, tmp_path, max_retries=10))
    with dask.config.set(scheduler="synchronous"):
        out = ds.compute()
    assert stub.fail_429 == 0 and stub.n_process == 2
    assert not np.isnan(out["nir"].values).any()


def test_sentinelhub__429_storm_is_bounded(stub, sh_config, tmp_path, aoi) -> None:
    stub.fail_429 = 1000
    ds = load_cube(aoi, "2022-01-20", "2022-01-20", _source(sh_config, tmp_path, max_retries=3))
    with pytest.raises(SourceError, match="429"), dask.config.set(scheduler="synchronous"):
        ds.compute()
    assert stub.fail_429 == 1000 - 3


def test_sentinelhub__5xx_is_retried(stub, sh_config, tmp_path, aoi) -> None:
    stub.fail_5xx = 2
    ds = load_cube(aoi, "2022-01-20", "2022-01-20", _source(sh_config, tmp_path, max_download_attempts=4))
    with dask.config.set(scheduler="synchronous"):
        ds.compute()
    assert stub.n_process == 2


def test_sentinelhub__5xx_gives_up(stub, sh_config, tmp_path, aoi) -> None:
    stub.fail_5xx = 100
    ds = load_cube(aoi, "2022-01-20", "2022-01-20", _source(sh_config, tmp_path, max_download_attempts=3))
    with pytest.raises(SourceError, match=r"HTTP 503.*3 attempts"), dask.config.set(scheduler="synchronous"):
        ds.compute()
    assert stub.fail_5xx == 97


def test_sentinelhub__budget_refuses_before_overrun(stub, sh_config, tmp_path, aoi) -> None:
    src = _source(sh_config, tmp_path, budget_pu=12.0)  # one 1000x1000 request is ~8.9 PU
    ds = load_cube(aoi, "2022-01-20", "2022-01-20", src)
    with pytest.raises(BudgetExceededError, match=r"PU monthly budget"), dask.config.set(scheduler="synchronous"):
        ds.compute()
    assert stub.n_process == 1  # the second tile was refused before it was asked
    state = json.loads(src.budget.path.read_text())
    assert state["spent_pu"] == pytest.approx(stub.pu_per_request) and state["requests"] == 1


def test_sentinelhub__budget_is_persisted_across_runs(stub, sh_config, tmp_path, aoi) -> None:
    budget = tmp_path / "budget.json"
    load_cube(aoi, "2022-01-20", "2022-01-20", _source(sh_config, tmp_path, budget_path=budget)).compute()
    src = SentinelHubSource(sh_config, cache_dir=tmp_path / "other-cache", budget_path=budget, budget_pu=20.0)
    with pytest.raises(BudgetExceededError):
        load_cube(aoi, "2022-01-30", "2022-01-30", src).compute()


def test_sentinelhub__missing_credentials(sh_env) -> None:
    with pytest.raises(CredentialsError) as err:
        SentinelHubSource()
    msg = str(err.value)
    assert "SH_CLIENT_ID" in msg and "SH_CLIENT_SECRET" in msg and "sentinelhub.config --profile" in msg


def test_sentinelhub__unknown_profile(sh_env) -> None:
    with pytest.raises(CredentialsError, match="profile 'nope'"):
        SentinelHubSource(profile="nope")


def test_sentinelhub__credentials_from_environment(sh_env, monkeypatch) -> None:
    monkeypatch.setenv("SH_CLIENT_ID", "env-id")
    monkeypatch.setenv("SH_CLIENT_SECRET", "env-secret")
    src = SentinelHubSource(cdse=True, cache_dir=sh_env / "c")
    assert src.config.sh_client_id == "env-id"
    assert "env-secret" not in repr(src)


def test_sentinelhub__rejected_credentials(stub, sh_config, tmp_path, aoi) -> None:
    stub.bad_credentials = True
    with pytest.raises(CredentialsError, match="rejected the credentials"):
        load_cube(aoi, *PERIOD, _source(sh_config, tmp_path))


def test_sentinelhub__expired_token_is_renewed(stub, sh_config, tmp_path, aoi) -> None:
    stub.reject_tokens = {"tok-1"}  # the service considers the first token expired
    load_cube(aoi, "2022-01-20", "2022-01-20", _source(sh_config, tmp_path)).compute()
    assert stub.n_tokens == 2 and stub.n_process == 2


def test_sentinelhub__expired_token_error(stub, sh_config, tmp_path, aoi) -> None:
    stub.reject_tokens = {f"tok-{i}" for i in range(1, 10)}
    with pytest.raises(TokenExpiredError, match="expired"):
        load_cube(aoi, *PERIOD, _source(sh_config, tmp_path))


def test_sentinelhub__credentials_never_written(stub, sh_config, tmp_path, aoi, caplog) -> None:
    caplog.set_level("DEBUG")
    src = _source(sh_config, tmp_path)
    load_cube(aoi, "2022-01-20", "2022-01-30", src).compute()
    blobs = b"".join(p.read_bytes() for p in (tmp_path / "shcache").rglob("*") if p.is_file())
    for secret in (b"s3cret-value-xyz", b"tok-1", b"Bearer"):
        assert secret not in blobs
    assert "s3cret-value-xyz" not in caplog.text and "tok-1" not in caplog.text


def test_sentinelhub__corrupt_response(stub, sh_config, tmp_path, aoi) -> None:
    stub.corrupt = True
    ds = load_cube(aoi, "2022-01-20", "2022-01-20", _source(sh_config, tmp_path))
    with pytest.raises(CorruptAssetError, match=r"not a readable GeoTIFF.*delete"):
        ds.compute()


def test_sentinelhub__tile_failure_recorded(stub, sh_config, tmp_path, aoi) -> None:
    stub.fail_5xx = 1000
    src = _source(sh_config, tmp_path, on_error="skip", max_download_attempts=1)
    ds = load_cube(aoi, "2022-01-20", "2022-01-20", src)
    with pytest.warns(TileFailureWarning, match="x01y05"), dask.config.set(scheduler="synchronous"):
        out = ds.compute()
    assert np.isnan(out["red"].values).all()
    assert len(src.failures) == 2 and ds.attrs["failures"] is src.failures


def test_sentinelhub__cdse_endpoints_and_collection_url(sh_config, tmp_path) -> None:
    src = SentinelHubSource(sh_config, cdse=True, cache_dir=tmp_path)
    assert src.config.sh_base_url == CDSE_BASE_URL and src.config.sh_token_url == CDSE_TOKEN_URL
    assert src.collection.service_url == CDSE_BASE_URL
    req = src._request(grid.tile_geobox("x01y05"), "2022-01-20")
    assert req.download_list[0].url == f"{CDSE_BASE_URL}/api/v1/process"
    body = req.download_list[0].post_values
    assert body["output"]["width"] == body["output"]["height"] == 1000
    assert body["input"]["data"][0]["processing"] == {"upsampling": "NEAREST", "harmonizeValues": True}
