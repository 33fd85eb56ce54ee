"""Road surroundings: exact disk sums at the corridor pixels only (issue #7), equal to the whole-raster result."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pytest
from scipy import ndimage
from shapely.geometry import LineString

from sarolangun_geo import baseline, composites, masking
from sarolangun_geo.change import disk_sums, roads
from sarolangun_geo.change.params import load_detection_params, load_road_params
from sarolangun_geo.indices import bsi, mndwi, ndvi

RP = load_road_params()
#: The whole-raster reference below has no river-land rule (tests/change/test_roads_river.py covers it).
RP_PLAIN = dataclasses.replace(RP, river_land_scoring=False)
P = load_detection_params()


def _brute_disk_sum(values: np.ndarray, r2: int) -> np.ndarray:
    """Sum over ``dx*dx + dy*dy <= r2`` around every pixel by explicit shifts (zero outside)."""
    ny, nx = values.shape
    r = int(np.sqrt(r2)) + 1
    out = np.zeros((ny, nx), np.int64)
    padded = np.zeros((ny + 2 * r, nx + 2 * r), np.int64)
    padded[r:r + ny, r:r + nx] = values
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dx * dx + dy * dy <= r2:
                out += padded[r + dy:r + dy + ny, r + dx:r + dx + nx]
    return out


@pytest.mark.parametrize("r2", [0, 1, 2, 12, 36, 110, 420])
def test_disk_sum__equals_brute_force_everywhere_including_edges(r2):
    rng = np.random.default_rng(r2)
    values = rng.integers(-10_000, 10_000, (37, 53))
    np.testing.assert_array_equal(disk_sums.disk_sum(values, r2), _brute_disk_sum(values, r2))


@pytest.mark.parametrize("radius", [1, 3, 10, 20])
def test_disk_sum__at_selected_pixels_and_masking_disk(radius):
    rng = np.random.default_rng(radius)
    values = rng.random((45, 60)) > 0.4
    where = rng.random(values.shape) > 0.8
    where[0, :] = where[-1, :] = where[:, 0] = where[:, -1] = True  # every edge pixel
    r2 = disk_sums.disk_r2(radius)
    ref = ndimage.correlate(values.astype(np.int64), masking.disk(radius).astype(np.int64), mode="constant")
    np.testing.assert_array_equal(disk_sums.disk_sum(values, r2, where), ref[where])
    assert disk_sums.disk_area(r2) == int(masking.disk(radius).sum())


def test_disk_sum__disk_larger_than_the_array():
    values = np.ones((4, 5), np.int64)
    np.testing.assert_array_equal(disk_sums.disk_sum(values, disk_sums.disk_r2(20)), np.full((4, 5), 20))


@pytest.mark.parametrize("buffer_m", [10.0, 35.0, 60.0])
def test_near_river__equals_euclidean_distance_transform(buffer_m):
    rng = np.random.default_rng(int(buffer_m))
    pw = rng.random((50, 70)) > 0.995
    params = dataclasses.replace(RP, river_buffer_m=buffer_m)
    ref = ndimage.distance_transform_edt(~pw) <= buffer_m / 10.0
    where = rng.random(pw.shape) > 0.5
    np.testing.assert_array_equal(roads._near_river(pw, params, disk_sums.pixels(pw.shape, where)), ref[where])
    np.testing.assert_array_equal(roads._near_river(pw, params, disk_sums.pixels(pw.shape, None)), ref)
    none = roads._near_river(np.zeros_like(pw), params, disk_sums.pixels(pw.shape, where))
    assert none.shape == (int(where.sum()),) and not none.any()


def _fft_surroundings(seen, land, dark, params):
    """The former whole-raster computation (FFT convolutions, rounded to the exact integer sums)."""
    from scipy.signal import fftconvolve

    def dsum(v, r):
        return np.rint(fftconvolve(v.astype("float64"), masking.disk(r).astype("float64"), mode="same")
                       ).astype(np.int64)

    r = max(1, round(params.context_radius_m / 10.0))
    n = dsum(seen, r)
    context = np.where(n >= params.context_min_seen * masking.disk(r).sum(), dsum(land & seen, r) / np.maximum(n, 1),
                       np.nan)
    rd = max(1, round(params.dark_radius_m / 10.0))
    n = dsum(seen, rd)
    code = np.where(seen, np.rint(np.clip(np.nan_to_num(dark), -1, 1) * 1e4), 0).astype(np.int64)
    dark_ctx = np.where(n >= params.context_min_seen * masking.disk(rd).sum(),
                        dsum(code, rd) / np.maximum(n, 1) * 1e-4, np.nan)
    return context, dark_ctx


def test_road_tile_evidence__surroundings_equal_the_whole_raster_result(world):
    """A cloudy week of the synthetic world (river, PETI, clearing, flood, roads near the edges)."""
    base, mon = world
    st = baseline.update_state(baseline.empty_state(base, P.baseline), base, masking.clear_mask(base, P.masking),
                               P.baseline)
    stats = baseline.baseline_stats(st, P.baseline, mon.time.values[0]).compute()
    clear = masking.clear_mask(mon, P.masking, baseline.reference_bands(stats))
    comp = composites.weekly_composite(mon, clear)
    xs, ys = base.x.values, base.y.values
    lines = [LineString([(xs[0] - 5, ys[r]), (xs[-1] + 5, ys[r])]) for r in (1, 30, 58)] + \
        [LineString([(xs[c], ys[0] + 5), (xs[c], ys[-1] - 5)]) for c in (2, 45)]  # one crosses the river
    segs = roads.split_segments(gpd.GeoDataFrame({"road_id": [f"R{i}" for i in range(5)]}, geometry=lines,
                                                 crs="EPSG:32748"), RP.segment_length_m)
    seg = roads.segment_raster(segs, base, RP.corridor_half_width_m)
    on = seg.values > 0
    n_checked = 0
    for week in comp.week.values[:4]:
        c = comp.sel(week=week).compute()
        table = roads.road_tile_evidence(c, stats, seg, RP_PLAIN)
        a = roads._arrays(c, stats, {})
        full = roads._pixel_values(a, RP_PLAIN)  # every pixel (the map path)
        for k in roads.PIXEL_COLUMNS[1:]:
            if k != "n_clear":
                np.testing.assert_array_equal(np.asarray(table[k]), full[k][on], err_msg=k)
        with np.errstate(invalid="ignore", divide="ignore"):  # the former whole-raster inputs of the disks
            ref = a["nir_median"] + a["swir16_median"]
            dark = 1.0 - (a["nir"] + a["swir16"]) / np.where(ref > 0, ref, np.nan)
            d_ndvi = ndvi(nir=a["nir"], red=a["red"]) - a["ndvi_median"]
            d_bsi = bsi(blue=a["blue"], red=a["red"], nir=a["nir"], swir16=a["swir16"]) - a["bsi_median"]
            now_mndwi = mndwi(green=a["green"], swir16=a["swir16"])
            d_mndwi = now_mndwi - a["mndwi_median"]
            seen = np.isfinite(d_ndvi) & np.isfinite(d_bsi) & np.isfinite(d_mndwi) & np.isfinite(dark)
            water = (now_mndwi > RP.water_mndwi) & (a["water_freq"] < RP.max_base_water_freq) \
                & (d_mndwi > RP.water_dmndwi)
            land = ((a["ndvi_median"] >= RP.veg_base_ndvi) & (d_ndvi < RP.veg_loss_dndvi)) \
                | (d_bsi > RP.bare_dbsi) | water
        context, dark_ctx = _fft_surroundings(seen, land, dark, RP)
        near = ndimage.distance_transform_edt(~a["permanent_water"].astype(bool)) <= RP.river_buffer_m / 10.0
        valid = table["valid"].to_numpy()
        np.testing.assert_array_equal(table["scorable"].to_numpy(), (np.isfinite(a["ndvi_median"]) & np.isfinite(ref)
                                                                      & ~near)[on])
        np.testing.assert_array_equal(table["context"].to_numpy(),
                                      np.where(valid, context[on], np.nan).astype(np.float32))
        np.testing.assert_array_equal(table["dark_ctx"].to_numpy(),
                                      np.where(valid, dark_ctx[on], np.nan).astype(np.float32))
        n_checked += int(np.isfinite(table["context"]).sum())
        assert not table["scorable"].all()  # the road across the river is not scored there
    assert n_checked > 200


def test_road_tile_evidence__does_not_import_scipy_signal():
    code = ("import sys, numpy as np, xarray as xr\n"
            "from odc.geo.xr import xr_zeros\n"
            "from sarolangun_geo import grid\n"
            "from sarolangun_geo.change import roads\n"
            "from sarolangun_geo.change.params import load_road_params\n"
            "t = xr_zeros(grid.regency_geobox()[3000:3040, 2000:2040], dtype='float32')\n"
            "comp = xr.Dataset({b: t + 0.1 for b in ('blue', 'green', 'red', 'nir', 'swir16')})\n"
            "comp['n_clear'] = t.astype('uint16') + 1\n"
            "stats = xr.Dataset({k: t + 0.2 for k in ('ndvi_median', 'bsi_median', 'mndwi_median', 'nir_median',"
            " 'swir16_median', 'water_freq')})\n"
            "stats['permanent_water'] = t > 1\n"
            "seg = (t + 1).astype('int32')\n"
            "assert len(roads.road_tile_evidence(comp, stats, seg, load_road_params())) == 1600\n"
            "print('scipy.signal' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_road_tile_evidence__table_rows_follow_the_corridor_order():
    """1-D results at the corridor pixels keep the row-major order of the former ``x[on]``."""
    rng = np.random.default_rng(3)
    where = rng.random((30, 40)) > 0.7
    ys, xs = disk_sums.pixels(where.shape, where)
    grid_y, grid_x = np.mgrid[0:30, 0:40]
    np.testing.assert_array_equal(ys, grid_y[where])
    np.testing.assert_array_equal(xs, grid_x[where])
