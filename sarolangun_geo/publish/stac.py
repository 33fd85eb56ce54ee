"""A self-contained static STAC catalog of the published outputs.

``<out>/catalog.json`` lists the weeks; ``<out>/<week>/catalog.json`` holds one
Item per product (PETI sites, road damage, true-colour COG, evidence COGs,
reports), each at ``<week>/stac/<item-id>/<item-id>.json``.  Every href is
relative, so the tree can be copied, zipped or served from any URL and read
by STAC Browser or QGIS's STAC plugin.  Objects are built with pystac and
written through :func:`._io.atomic_write_text` with fixed key order (no
timestamps), so reruns are byte-identical.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pystac

from ._io import atomic_write_text, dumps_json, rel

__all__ = ["MEDIA", "Asset", "ItemSpec", "week_interval", "write_root_catalog", "write_week_catalog"]

PROJ_EXT = "https://stac-extensions.github.io/projection/v1.1.0/schema.json"
MEDIA = {
    ".geojson": "application/geo+json",
    ".tif": pystac.MediaType.COG,
    ".html": pystac.MediaType.HTML,
    ".png": pystac.MediaType.PNG,
    ".json": pystac.MediaType.JSON,
}
Asset = tuple[str, Path, str, tuple[str, ...]]  # key, path, title, roles


class ItemSpec(dict):  # type: ignore[type-arg]
    """Plain mapping describing one Item: ``id``, ``title``, ``bbox``, ``assets``, optional ``proj``."""


def week_interval(week: str) -> tuple[dt.datetime, dt.datetime]:
    """Start (Monday 00:00 UTC) and end (Sunday 23:59:59 UTC) of ISO week ``YYYY-Www``."""
    year, w = int(week[:4]), int(week[6:])
    start = dt.datetime.combine(dt.date.fromisocalendar(year, w, 1), dt.time(), tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=7) - dt.timedelta(seconds=1)


def _bbox_polygon(bbox: Sequence[float]) -> dict[str, Any]:
    w, s, e, n = (round(float(v), 6) for v in bbox)
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def _item(week_dir: Path, week: str, spec: Mapping[str, Any]) -> tuple[Path, dict[str, Any]]:
    start, end = week_interval(week)
    item_dir = week_dir / "stac" / spec["id"]
    item = pystac.Item(id=spec["id"], geometry=_bbox_polygon(spec["bbox"]),
                       bbox=[round(float(v), 6) for v in spec["bbox"]], datetime=None,
                       properties={"title": spec["title"], "start_datetime": start.isoformat(),
                                   "end_datetime": end.isoformat(), "sarolangun:week": week})
    if spec.get("proj"):
        item.stac_extensions.append(PROJ_EXT)
    for key, path, title, roles in spec["assets"]:
        extra = dict(spec["proj"]) if spec.get("proj") and path.suffix == ".tif" else {}
        item.add_asset(key, pystac.Asset(href=rel(path, item_dir), title=title,
                                         media_type=MEDIA.get(path.suffix), roles=list(roles),
                                         extra_fields=extra))
    item.add_link(pystac.Link("root", "../../../catalog.json", pystac.MediaType.JSON))
    item.add_link(pystac.Link("parent", "../../catalog.json", pystac.MediaType.JSON))
    d = item.to_dict(include_self_link=False, transform_hrefs=False)
    return item_dir / f"{spec['id']}.json", d


def write_week_catalog(week_dir: str | Path, week: str, items: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``<week_dir>/catalog.json`` and its Items; return the catalog path."""
    week_dir = Path(week_dir)
    cat = pystac.Catalog(id=f"sarolangun-geo-{week}", title=f"Sarolangun PETI & road monitoring {week}",
                         description=f"Weekly Sentinel-2 monitoring outputs of Kabupaten Sarolangun for {week}.")
    cat.add_link(pystac.Link("root", "../catalog.json", pystac.MediaType.JSON))
    cat.add_link(pystac.Link("parent", "../catalog.json", pystac.MediaType.JSON))
    for spec in items:
        path, d = _item(week_dir, week, spec)
        atomic_write_text(path, dumps_json(d))
        cat.add_link(pystac.Link("item", "./" + rel(path, week_dir), pystac.MediaType.GEOJSON,
                                 title=spec["title"]))
    out = week_dir / "catalog.json"
    atomic_write_text(out, dumps_json(cat.to_dict(include_self_link=False, transform_hrefs=False)))
    return out


def write_root_catalog(out_dir: str | Path) -> Path:
    """(Re)write ``<out>/catalog.json`` linking every ``<YYYY-Www>/catalog.json`` found, in order."""
    out_dir = Path(out_dir)
    cat = pystac.Catalog(id="sarolangun-geo", title="Sarolangun PETI & road monitoring",
                         description="Weekly Sentinel-2 monitoring of illegal gold mining (PETI) and road "
                                     "damage in Kabupaten Sarolangun, Jambi, Indonesia.")
    cat.add_link(pystac.Link("root", "./catalog.json", pystac.MediaType.JSON))
    for wc in sorted(out_dir.glob("[0-9][0-9][0-9][0-9]-W[0-9][0-9]/catalog.json")):
        cat.add_link(pystac.Link("child", "./" + rel(wc, out_dir), pystac.MediaType.JSON, title=wc.parent.name))
    path = out_dir / "catalog.json"
    atomic_write_text(path, dumps_json(cat.to_dict(include_self_link=False, transform_hrefs=False)))
    return path
