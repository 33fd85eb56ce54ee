"""Fixtures of the simulator tests: the ``test`` scenario generated once per session."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from sarolangun_geo import bands, simulate


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory) -> Path:
    """The ``test`` scenario (2.4 km, 37 dates straddling 2022-01-25) as a catalog folder."""
    out = tmp_path_factory.mktemp("sim") / "test"
    simulate.simulate_catalog(out, simulate.scenario("test"))
    return out


@pytest.fixture(scope="session")
def truth(sim_dir) -> list[dict]:
    return json.loads((sim_dir / "truth" / "events.geojson").read_text())["features"]


@pytest.fixture(scope="session")
def cube(sim_dir):
    """The catalog loaded with odc-stac onto the canonical sub-grid, decoded to reflectance."""
    import odc.stac
    import pystac

    items = list(pystac.Catalog.from_file(str(sim_dir / "catalog.json")).get_items(recursive=True))
    gbox = simulate.sim_geobox(simulate.scenario("test"))
    ds = odc.stac.load(items, bands=list(bands.ALL_BANDS), geobox=gbox, groupby="solar_day",
                       resampling="nearest")
    dates = [dt.date.fromisoformat(str(t)[:10]) for t in ds.time.values]
    refl = {}
    for b in bands.REFLECTANCE_BANDS:
        off = np.array([bands.offset_for(d) for d in dates], "float32")[:, None, None]
        dn = ds[b].values.astype("float32")
        refl[b] = np.where(dn > 0, dn * bands.SCALE + off, np.nan)
    return {"ds": ds, "dates": dates, "refl": refl, "scl": ds.scl.values, "gbox": gbox, "items": items}
