"""Before/after chips: observation choice, size, dates, laziness."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
from PIL import Image

from sarolangun_geo.publish.chips import CHIP_KEYS, choose_observations, render_site_chips
from sarolangun_geo.publish.layers import prepare_sites

from .conftest import WEEK


def test_choose_observations():
    s = pd.Series([0.9, 0.9, 0.4, 0.0, 1.0, 0.7, 0.3],
                  index=pd.to_datetime(["2026-04-01", "2026-05-01", "2026-06-01", "2026-06-15", "2026-07-10",
                                        "2026-08-01", "2026-09-01"]))
    before, after = choose_observations(s, dt.date(2026, 7, 1), 0.6)
    assert before == pd.Timestamp("2026-05-01")  # best clear, latest on ties
    assert after == pd.Timestamp("2026-08-01")  # latest clear (09-01 is cloudy)
    assert choose_observations(s, dt.date(2026, 1, 1), 0.6)[0] is None


def test_render_site_chips(sites, cube):
    site = prepare_sites(sites, WEEK).query("kecamatan_slug == 'limun'").iloc[0]
    first_seen = dt.date.fromisoformat(site["first_seen"])
    chips = render_site_chips(cube, site.geometry, first_seen)
    assert set(chips) == set(CHIP_KEYS)
    assert chips["before_tc"][0] < site["first_seen"] <= chips["after_tc"][0]
    assert chips["after_tc"][0] == "2026-11-15"
    img = Image.open(io.BytesIO(chips["after_swir"][1]))
    assert img.size == (96, 96) and img.mode == "RGB"
    assert chips["before_tc"][1] != chips["after_tc"][1]


def test_render_site_chips__dask_is_lazy_and_equal(sites, cube):
    site = prepare_sites(sites, WEEK).query("kecamatan_slug == 'limun'").iloc[1]
    first_seen = dt.date.fromisoformat(site["first_seen"])
    lazy = cube.chunk({"time": 1, "y": 200, "x": 200})
    assert render_site_chips(lazy, site.geometry, first_seen) == render_site_chips(cube, site.geometry, first_seen)


def test_render_site_chips__outside_cube(sites, cube):
    far = prepare_sites(sites, WEEK).query("kecamatan_slug != 'limun'").iloc[0]
    assert render_site_chips(cube, far.geometry, dt.date(2026, 7, 1)) == {}


def test_write_chips__index(published):
    out, res = published
    chips = res.chips
    have = chips[chips["after_tc"] != ""]
    assert len(have) == 8
    for _sid, row in have.iterrows():
        for key in CHIP_KEYS:
            assert (out / WEEK / row[key]).is_file()
