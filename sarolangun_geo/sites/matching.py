"""Match this week's polygons to registry sites by overlap.

A new polygon *n* and an existing site *o* are linked when
``area(n ∩ o) / min(area(n), area(o)) >= min_overlap`` (overlap of the smaller;
robust to growth, unlike IoU).  The links form a bipartite graph; each
connected component is resolved on its own:

* 0 old, 1 new -> a new site;
* 1 old, 1 new -> the site continues;
* k old, 1 new (merge) -> the **oldest** site (earliest ``first_seen``, then
  lowest id) keeps its id; the others are retired with ``merged_into``;
* 1 old, k new (split) -> the **largest** polygon keeps the id, the others get
  new ids with ``parent_id`` = the old id;
* k old, m new -> polygons, largest first, take the oldest linked site not yet
  taken; leftover polygons are splits (parent = their most-overlapping old
  site), leftover sites are merged into the polygon they overlap most.

Everything is ordered, so the result is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

__all__ = ["Match", "match_sites"]


@dataclass(frozen=True)
class Match:
    """Result of :func:`match_sites`.

    Attributes
    ----------
    site_ids
        Per new polygon, the existing site id it continues, or None (new site).
    parent_ids
        Per new polygon, the parent site id when it split off, else None.
    merged
        ``{retired site id: index of the new polygon it merged into}``.
    """

    site_ids: list[str | None]
    parent_ids: list[str | None]
    merged: dict[str, int] = field(default_factory=dict)


def _links(old_geoms: np.ndarray, new_geoms: np.ndarray, min_overlap: float) -> list[tuple[int, int, float]]:
    if len(old_geoms) == 0 or len(new_geoms) == 0:
        return []
    new_i, old_i = shapely.STRtree(old_geoms).query(new_geoms, predicate="intersects")
    if len(new_i) == 0:
        return []
    inter = shapely.area(shapely.intersection(new_geoms[new_i], old_geoms[old_i]))
    smaller = np.minimum(shapely.area(new_geoms[new_i]), shapely.area(old_geoms[old_i]))
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(smaller > 0, inter / smaller, 0.0)
    return [(int(o), int(n), float(f)) for o, n, f in zip(old_i, new_i, frac, strict=True) if f >= min_overlap]


def _components(links: list[tuple[int, int, float]]) -> list[tuple[set[int], set[int]]]:
    parent: dict[tuple[str, int], tuple[str, int]] = {}

    def find(k: tuple[str, int]) -> tuple[str, int]:
        parent.setdefault(k, k)
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for o, n, _ in links:
        parent[find(("o", o))] = find(("n", n))
    comps: dict[tuple[str, int], tuple[set[int], set[int]]] = {}
    for k in list(parent):
        olds, news = comps.setdefault(find(k), (set(), set()))
        (olds if k[0] == "o" else news).add(k[1])
    return list(comps.values())


def match_sites(old_ids: list[str], old_geoms: np.ndarray, old_first_seen: list[str],
                new_geoms: np.ndarray, min_overlap: float) -> Match:
    """Match new polygons to existing sites (see the module docstring for the rules).

    Parameters
    ----------
    old_ids, old_geoms, old_first_seen
        The registry's current (not retired) sites, EPSG:32748.
    new_geoms
        This week's polygons, EPSG:32748.
    min_overlap
        Minimum ``intersection / smaller area`` for a link.
    """
    old_geoms = np.asarray(old_geoms, dtype=object)
    new_geoms = np.asarray(new_geoms, dtype=object)
    links = _links(old_geoms, new_geoms, min_overlap)
    weight = {(o, n): f * 1.0 for o, n, f in links}
    site_ids: list[str | None] = [None] * len(new_geoms)
    parent_ids: list[str | None] = [None] * len(new_geoms)
    merged: dict[str, int] = {}
    new_area = shapely.area(new_geoms) if len(new_geoms) else np.zeros(0)
    for olds, news in _components(links):
        age = sorted(olds, key=lambda o: (old_first_seen[o] or "9999", old_ids[o]))
        order = sorted(news, key=lambda n: (-new_area[n], n))
        taken: set[int] = set()
        for n in order:
            cands = [o for o in age if o not in taken and (o, n) in weight]
            if cands:
                site_ids[n] = old_ids[cands[0]]
                taken.add(cands[0])
        for n in order:
            if site_ids[n] is None:
                best = max((o for o in olds if (o, n) in weight), key=lambda o: (weight[(o, n)], -o))
                parent_ids[n] = old_ids[best]
        for o in age:
            if o not in taken:
                best_n = max((n for n in news if (o, n) in weight), key=lambda n: (weight[(o, n)], -n))
                merged[old_ids[o]] = best_n
    return Match(site_ids=site_ids, parent_ids=parent_ids, merged=merged)
