"""Render true-colour previews of a simulated catalog into docs/img/sim_*.png.

Usage: ``python benchmarks/render_sim_previews.py [CATALOG_DIR] [--out docs/img]``
(default: generate the demo scenario into ``out/sim_demo`` first if it is missing).

Writes ``sim_wet_cloudy.png`` (cloudiest wet-season date), ``sim_dry_clear.png``
(clearest dry-season date) and ``sim_peti_before_after.png`` (a PETI site on the
clearest dates before its start and after it has grown).  True colour B4/B3/B2 with a
fixed linear stretch of reflectance 0–0.18 and gamma 1/1.3, like a typical S2 browse.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _items(cat: Path) -> list[dict]:
    coll = cat / "sentinel-2-l2a"
    out = []
    for p in sorted(coll.glob("*/*.json")):
        it = json.loads(p.read_text())
        it["_dir"] = p.parent
        out.append(it)
    return out


def _rgb(it: dict, window: tuple[int, int, int, int] | None = None) -> np.ndarray:
    bands = []
    for b in ("red", "green", "blue"):
        off = it["assets"][b]["raster:bands"][0]["offset"]
        with rasterio.open(it["_dir"] / f"{b}.tif") as ds:
            w = None if window is None else rasterio.windows.Window(*window)
            dn = ds.read(1, window=w).astype("float32")
        bands.append(np.where(dn > 0, dn * 1e-4 + off, np.nan))
    rgb = np.clip(np.dstack(bands) / 0.18, 0, 1) ** (1 / 1.3)
    return np.nan_to_num(rgb)


def _save(rgb: np.ndarray, path: Path, size: int) -> None:
    img = Image.fromarray((rgb * 255).astype("uint8"))
    if img.size[0] != size:  # shrink smoothly, enlarge with crisp 10 m pixels
        how = Image.Resampling.LANCZOS if img.size[0] > size else Image.Resampling.NEAREST
        img = img.resize((size, size * img.size[1] // img.size[0]), how)
    img.quantize(colors=192, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(path, path.stat().st_size // 1024, "KB")


def _site_window(it: dict, feat: dict, pad: int = 50) -> tuple[int, int, int, int]:
    import pyproj
    import shapely
    from shapely.geometry import shape

    epsg = it["properties"]["proj:epsg"]
    tr = pyproj.Transformer.from_crs(4326, epsg, always_xy=True)
    g = shapely.transform(shape(feat["geometry"]),
                          lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    a = it["assets"]["red"]["proj:transform"]
    x0, y0, x1, y1 = g.bounds
    c0, r0 = int((x0 - a[2]) / 10) - pad, int((a[5] - y1) / 10) - pad
    c1, r1 = int((x1 - a[2]) / 10) + pad, int((a[5] - y0) / 10) + pad
    side = max(c1 - c0, r1 - r0, 120)
    cc, rr = (c0 + c1) // 2, (r0 + r1) // 2
    h, w = it["assets"]["red"]["proj:shape"]
    c0, r0 = min(max(0, cc - side // 2), w - side), min(max(0, rr - side // 2), h - side)
    return max(c0, 0), max(r0, 0), min(side, w), min(side, h)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("catalog", nargs="?", default=str(ROOT / "out" / "sim_demo"))
    ap.add_argument("--out", default=str(ROOT / "docs" / "img"))
    args = ap.parse_args(argv)
    cat, out = Path(args.catalog), Path(args.out)
    if not (cat / "catalog.json").exists():
        from sarolangun_geo import simulate

        simulate.simulate_catalog(cat, simulate.scenario("demo"))
    out.mkdir(parents=True, exist_ok=True)
    items = _items(cat)
    month = lambda it: int(it["properties"]["datetime"][5:7])  # noqa: E731
    cc = lambda it: it["properties"]["eo:cloud_cover"]  # noqa: E731
    wet = [i for i in items if month(i) in (11, 12, 1, 2)]
    dry = [i for i in items if month(i) in (6, 7, 8, 9)]
    cloudy = sorted(wet, key=lambda i: abs(cc(i) - 70))[0]
    clear = min(dry, key=cc)
    _save(_rgb(cloudy), out / "sim_wet_cloudy.png", 520)
    _save(_rgb(clear), out / "sim_dry_clear.png", 520)
    print("wet:", cloudy["id"], cc(cloudy), " dry:", clear["id"], cc(clear))

    ev = json.loads((cat / "truth" / "events.geojson").read_text())["features"]
    date = lambda it: dt.date.fromisoformat(it["properties"]["datetime"][:10])  # noqa: E731
    t0, t1 = date(items[0]), date(items[-1])
    peti = [f for f in ev if f["properties"]["kind"] == "peti"
            and dt.date.fromisoformat(f["properties"]["start"]) > t0 + dt.timedelta(days=40)]
    site = max(peti, key=lambda f: (f["properties"]["end"] is None, f["properties"]["area_ha"]))  # active
    start = dt.date.fromisoformat(site["properties"]["start"])
    grown = dt.date.fromisoformat(site["properties"]["growth"][-1]["date"])
    w = _site_window(items[0], site)

    def clear(it: dict) -> float:  # clear fraction of the site window according to the SCL
        with rasterio.open(it["_dir"] / "scl.tif") as ds:
            scl = ds.read(1, window=rasterio.windows.Window(w[0] // 2, w[1] // 2, w[2] // 2, w[3] // 2))
        return float(np.isin(scl, (4, 5, 6)).mean())

    before = max([i for i in items if date(i) < start], key=clear)
    after = max([i for i in items if date(i) >= min(grown, t1 - dt.timedelta(days=30))] or items[-1:], key=clear)
    pair = np.concatenate([_rgb(before, w), np.ones((w[3], 4, 3)), _rgb(after, w)], axis=1)
    _save(pair, out / "sim_peti_before_after.png", 640)
    print("peti:", site["properties"]["event_id"], site["properties"]["area_ha"], "ha", before["id"], after["id"])


if __name__ == "__main__":
    main()
