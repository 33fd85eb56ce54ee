from __future__ import annotations

from pathlib import Path

import pytest

from sarolangun_geo.errors import ConfigError
from sarolangun_geo.pipeline import load_run_config
from sarolangun_geo.pipeline.run import _windows, aoi_geometry, last_complete_week

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["demo", "earth-search", "sentinelhub", "cdse"])
def test_shipped_run_configs_load(name):
    cfg = load_run_config(ROOT / "pipelines" / f"{name}.toml")
    assert cfg.name == name
    spec, kw = cfg.source_spec()
    if name in ("sentinelhub", "cdse"):
        assert spec == name and dict(kw)["budget_pu"] > 0
    else:
        assert spec.endswith(".json") or spec == "earth-search"


def test_cdse_config_respects_free_tier():
    cfg = load_run_config(ROOT / "pipelines" / "cdse.toml")
    assert cfg.source.monthly_pu_budget <= 10_000


def test_overrides_replace_aoi_and_paths(tmp_path):
    cfg = load_run_config(ROOT / "pipelines" / "demo.toml")
    c2 = cfg.with_overrides(kecamatan=("limun",), scheduler="local:2", lang="en", out=str(tmp_path))
    assert c2.aoi.kecamatan == ("limun",) and not c2.aoi.bbox
    assert c2.dask.scheduler == "local:2" and c2.lang == "en"
    assert c2.paths.registry == str(tmp_path / "registry.gpkg")
    assert cfg.aoi.bbox  # the original is frozen and untouched
    with pytest.raises(ConfigError, match="lang"):
        cfg.with_overrides(lang="fr")


def test_two_aois_are_refused(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('name = "x"\n[aoi]\nkecamatan = ["limun"]\nbbox = [102.3, -2.6, 102.4, -2.5]\n')
    with pytest.raises(ConfigError, match="more than one"):
        load_run_config(p)


def test_unknown_key_is_refused(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('name = "x"\n[source]\nurll = "earth-search"\n')
    with pytest.raises(ConfigError, match="urll"):
        load_run_config(p)


def test_kecamatan_aoi_tiles_cover_only_the_kecamatan():
    cfg = load_run_config(ROOT / "pipelines" / "demo.toml").with_overrides(kecamatan=("batang-asai",))
    geom = aoi_geometry(cfg)
    assert list(geom["nama"]) == ["Batang Asai"]
    gbox, windows = _windows(cfg)
    assert 8 <= len(windows) <= 20
    # windows tile the sub-grid without overlap
    area = sum((w[2] - w[0]) * (w[3] - w[1]) for w in windows.values())
    assert area <= gbox.shape[0] * gbox.shape[1]


def test_last_complete_week():
    import datetime as dt

    assert last_complete_week(dt.date(2026, 11, 22)) == "2026-W46"  # a Sunday: its week is not over
    assert last_complete_week(dt.date(2026, 11, 23)) == "2026-W47"
