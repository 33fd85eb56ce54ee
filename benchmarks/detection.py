"""Detection-quality benchmark: full PETI + road-damage detection on simulated catalogs, scored on truth.

For each scenario (name, seed) this script

1. simulates the catalog (``sarolangun_geo.simulate``; cached under ``--data``),
2. loads the cube lazily with ``sources.load_cube`` (one week in memory at a time),
3. backfills the baseline state over a warm-up period and writes/reads it per tile,
4. runs the weekly detection: clear mask -> PETI evidence per acquisition -> weekly
   composite -> road-segment scores -> incremental baseline update (ongoing detections
   and damaged road corridors excluded),
5. polygonises the final PETI confidence (>= medium) with ``rasterio.features.shapes``
   (8-connectivity, MMU 0.1 ha) and scores it against ``truth/events.geojson``.

Metrics (pooled and per scenario): site recall by size class for PETI sites whose onset
falls after the warm-up, precision of alert polygons, alerts on confounders by kind,
latency in clear acquisitions, road-segment precision/recall/F1.  Writes
``benchmarks/results/detection.json`` and ``detection.md``.

Thresholds are tuned on the *tuning* scenario only (demo, seed 42); the others are
held out (``role`` in the results).

Run: ``make bench-detection`` or ``python benchmarks/detection.py [--quick] [--data DIR]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from rasterio import features
from shapely.geometry import shape
from shapely.strtree import STRtree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sarolangun_geo import baseline, composites, masking, simulate  # noqa: E402
from sarolangun_geo.change import mining, roads  # noqa: E402
from sarolangun_geo.change.params import load_detection_params, load_road_params  # noqa: E402
from sarolangun_geo.sources import load_cube  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
#: (scenario, seed, role): tune on the first, report the others as held out.
SCENARIOS = [("demo", 42, "tune"), ("demo", 2027, "held-out"), ("hard", 1234, "held-out (hard)")]
QUICK = [("test", 7, "smoke")]
WARMUP_DAYS = 90
ALERT_CONF = 2  # medium or above is an alert
MMU_HA = 0.1
SIZE_CLASSES = {"0_2_to_0_5ha": (0.2, 0.5), "0_5_to_5ha": (0.5, 5.0), "gt_5ha": (5.0, math.inf)}
CONFOUNDERS = ("plantation_clearing", "rice_flooding", "sandbar", "landslide", "village_growth")


DEBUG_WEEKS = int(__import__("os").environ.get("DETECTION_DEBUG_WEEKS", "0"))


def _rss_gb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 1e9
    except ImportError:  # pragma: no cover
        return float("nan")


def log(msg: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {msg}", flush=True)


# --------------------------------------------------------------------------- running the detection

def run_detection(catalog: Path, workdir: Path, truth: dict[str, Any]) -> dict[str, Any]:
    """Backfill + weekly detection over the whole catalog; returns rasters and per-week records."""
    params, rparams = load_detection_params(), load_road_params()
    scen = json.loads((catalog.parent / "truth" / "scenario.json").read_text())
    cfg = simulate.scenario(scen["config"]["name"], seed=scen["config"]["seed"])
    gbox = simulate.sim_geobox(cfg)
    cube = load_cube(gbox, cfg.start, cfg.end, source=catalog)
    cube = cube[["blue", "green", "red", "nir", "swir16", "swir22", "scl"]]
    times = pd.DatetimeIndex(cube.time.values)
    warm_end = pd.Timestamp(cfg.start) + pd.Timedelta(days=WARMUP_DAYS)
    log(f"cube {dict(cube.sizes)}; warm-up to {warm_end.date()}")

    state_dir = workdir / "state"
    state = baseline.empty_state(cube, params.baseline)
    t0 = time.time()
    warm_idx = np.flatnonzero(times < warm_end)
    for i in range(0, len(warm_idx), 4):  # backfill in batches of 4 acquisitions
        part = cube.isel(time=warm_idx[i:i + 4]).compute()
        state = baseline.update_state(state, part, masking.clear_mask(part, params.masking), params.baseline)
    baseline.write_state(state, state_dir)
    state = baseline.read_state(state_dir, gbox)  # the weekly runs start from the stored state
    log(f"backfill: {len(warm_idx)} acquisitions in {time.time() - t0:.0f}s")

    segs = roads.split_segments(truth["roads"], rparams.segment_length_m)
    seg_raster = roads.segment_raster(segs, cube, rparams.corridor_half_width_m)
    labels = composites.iso_week_labels(times)
    weeks = [w for w in dict.fromkeys(labels) if times[labels == w].min() >= warm_end]
    det = None
    first_alert = np.full(gbox.shape, -1, np.int32)
    first_low = np.full(gbox.shape, -1, np.int32)
    site_clear: dict[str, list[tuple[int, float]]] = {}
    peti_masks = truth["peti_masks"]
    road_rows = []
    scored = None
    t0 = time.time()
    for n, w in enumerate(weeks):
        wk = cube.isel(time=np.flatnonzero(labels == w)).compute()
        stats = baseline.baseline_stats(state, params.baseline, composites.week_bounds(w)[0]).compute()
        changed = det["confidence"] > 0 if det is not None else None  # as pipeline/tilework.py
        clear = masking.clear_mask(wk, params.masking, baseline.reference_bands(stats, changed)).compute()
        for k in range(wk.sizes["time"]):
            det = mining.peti_evidence(wk.isel(time=[k]), clear.isel(time=[k]), stats, params, det).compute()
            day = mining.epoch_day(wk.time.values[k])
            conf = det["confidence"].values
            first_alert[(conf >= ALERT_CONF) & (first_alert < 0)] = day
            first_low[(conf >= 1) & (first_low < 0)] = day
            ck = clear.values[k]
            for eid, m in peti_masks.items():
                site_clear.setdefault(eid, []).append((day, float(ck[m].mean()) if m.any() else 0.0))
        comp = composites.weekly_composite(wk, clear).isel(week=0)
        scored = roads.score_segments(segs, comp, stats, rparams, w, seg_raster, previous=scored)  # persistence
        road_rows.append(scored.drop(columns="geometry"))
        damaged_ids = np.flatnonzero(scored["damaged"].to_numpy()) + 1
        exclude = (det["n_confirm"] > 0) | xr.DataArray(np.isin(seg_raster.values, damaged_ids),
                                                         dims=("y", "x"), coords=seg_raster.coords)
        state = baseline.update_state(state, wk, clear, params.baseline, exclude=exclude).compute()
        last_week, last_clear, last_stats = wk, clear, stats
        del wk, clear, comp, stats
        gc.collect()  # accessor caches (ds.odc) make reference cycles that hold whole weeks of arrays
        if n % 8 == 0 or n == len(weeks) - 1 or DEBUG_WEEKS:
            log(f"week {w} ({n + 1}/{len(weeks)}): {int((det['confidence'].values >= ALERT_CONF).sum())} alert px, "
                f"{int(scored['damaged'].sum())} damaged segments, {time.time() - t0:.0f}s, rss {_rss_gb():.1f} GB")
        if DEBUG_WEEKS and n + 1 >= DEBUG_WEEKS:
            break
    # persistence: the weekly state goes to disk per tile next to the baseline, and rerunning
    # the last week changes nothing (idempotent)
    baseline.write_state(det, state_dir, name="detection")
    baseline.write_state(state, state_dir)
    again = mining.peti_evidence(last_week, last_clear, last_stats, params, det).compute()
    idempotent = all(np.array_equal(again[v].values, det[v].values) for v in mining.STATE_VARS)
    road_table = pd.concat(road_rows, ignore_index=True)
    road_table.to_csv(workdir / "roads_weekly.csv", index=False)  # diagnostics
    np.save(workdir / "first_alert.npy", first_alert)
    np.save(workdir / "first_low.npy", first_low)
    return {"det": det, "first_alert": first_alert, "first_low": first_low, "site_clear": site_clear,
            "roads": road_table, "segments": segs, "gbox": gbox,
            "warm_end": warm_end, "end": pd.Timestamp(cfg.end), "idempotent": idempotent,
            "n_weeks": len(weeks), "n_acq": len(times), "seconds": time.time() - t0}


# --------------------------------------------------------------------------- truth

def load_truth(out: Path, gbox: Any) -> dict[str, Any]:
    ev = gpd.read_file(out / "truth" / "events.geojson").to_crs(32748)
    rd = gpd.read_file(out / "truth" / "roads.geojson").to_crs(32748)
    ev["start"] = pd.to_datetime(ev["start"])
    ev["end"] = pd.to_datetime(ev["end"])
    masks = {}
    for _, r in ev[ev.kind == "peti"].iterrows():
        masks[r.event_id] = features.rasterize([(r.geometry, 1)], out_shape=gbox.shape, transform=gbox.affine,
                                               fill=0, dtype="uint8").astype(bool)
    return {"events": ev, "roads": rd, "peti_masks": masks}


def _growth(row: Any) -> list[dict[str, Any]]:
    g = row.get("growth")
    try:
        return json.loads(g) if isinstance(g, str) else list(g or [])
    except (TypeError, ValueError):
        return []


def _first_visible(row: Any) -> pd.Timestamp | None:
    """First truth date at which the site's area reached the MMU."""
    for p in _growth(row):
        if p["area_ha"] >= MMU_HA:
            return pd.Timestamp(p["date"])
    return None


def _max_area(row: Any, until: pd.Timestamp) -> float:
    g = row.get("growth")
    try:
        growth = json.loads(g) if isinstance(g, str) else (g or [])
    except (TypeError, ValueError):
        growth = []
    vals = [p["area_ha"] for p in growth if pd.Timestamp(p["date"]) <= until]
    return float(max(vals)) if vals else float(row["area_ha"])


# --------------------------------------------------------------------------- scoring

def alert_polygons(conf: np.ndarray, gbox: Any) -> gpd.GeoDataFrame:
    """Polygons of confidence >= ALERT_CONF (8-connected), at least MMU_HA."""
    mask = conf >= ALERT_CONF
    rows = []
    for geom, val in features.shapes(mask.astype("uint8"), mask=mask, transform=gbox.affine, connectivity=8):
        g = shape(geom)
        if val == 1 and g.area >= MMU_HA * 1e4:
            rows.append({"geometry": g, "area_ha": g.area / 1e4})
    return gpd.GeoDataFrame(rows, columns=["geometry", "area_ha"], geometry="geometry", crs=32748)


def score_scenario(res: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
    ev = truth["events"]
    warm_end, end = res["warm_end"], res["end"]
    polys = alert_polygons(res["det"]["confidence"].values, res["gbox"])
    peti = ev[ev.kind == "peti"].reset_index(drop=True)
    conf_ev = ev[ev.kind.isin(CONFOUNDERS)].reset_index(drop=True)
    # precision: an alert polygon is true when it touches any PETI footprint (also pre-existing ones)
    tree = STRtree(list(peti.geometry)) if len(peti) else None
    ctree = STRtree(list(conf_ev.geometry)) if len(conf_ev) else None
    tp_poly, by_kind, other = 0, dict.fromkeys(CONFOUNDERS, 0), 0
    fp_examples = []
    for g in polys.geometry:
        if tree is not None and len(tree.query(g, predicate="intersects")):
            tp_poly += 1
            continue
        hits = ctree.query(g.buffer(20), predicate="intersects") if ctree is not None else []
        if len(hits):
            k = conf_ev.kind.iloc[int(hits[0])]
            by_kind[k] += 1
        else:
            other += 1
        fp_examples.append([round(c, 1) for c in g.centroid.coords[0]])
    precision = tp_poly / len(polys) if len(polys) else 1.0
    # recall by size class, on sites with onset after the warm-up
    fa = res["first_alert"]
    sites = []
    for _, r in peti.iterrows():
        m = truth["peti_masks"][r.event_id]
        area = _max_area(r, end)
        onset = r.start
        monitored = onset >= warm_end
        alerted_days = fa[m & (fa >= 0)]
        first = int(alerted_days.min()) if alerted_days.size else -1
        looks = [(d, f) for d, f in res["site_clear"].get(r.event_id, []) if f >= 0.5
                 and d >= mining.epoch_day(onset)]
        lat = sum(1 for d, _ in looks if d < first) if first >= 0 else None
        low_days = res["first_low"][m & (res["first_low"] >= 0)]
        first_low = int(low_days.min()) if low_days.size else -1
        lat_low = sum(1 for d, _ in looks if d < first_low) if first_low >= 0 else None
        visible = _first_visible(r)  # first date the site's truth area reached the MMU
        vis_day = mining.epoch_day(visible) if visible is not None else None
        lat_mmu = (sum(1 for d, _ in looks if vis_day <= d < first) if first >= 0 and vis_day is not None
                   else None)
        sites.append({"event_id": r.event_id, "area_ha": round(area, 3), "onset": str(onset.date()),
                      "monitored": bool(monitored), "detected": first >= 0,
                      "first_alert": str(dt.date(1970, 1, 1) + dt.timedelta(days=first)) if first >= 0 else None,
                      "latency_acq": lat, "latency_low_acq": lat_low, "latency_from_mmu_acq": lat_mmu,
                      "reached_mmu": str(visible.date()) if visible is not None else None,
                      "clear_looks_after_onset": len(looks)})
    sdf = pd.DataFrame(sites)
    mon = sdf[sdf.monitored] if len(sdf) else sdf
    rec = {}
    for name, (lo, hi) in SIZE_CLASSES.items():
        sub = mon[(mon.area_ha >= lo) & (mon.area_ha < hi)] if len(mon) else mon
        rec[name] = {"n": len(sub), "detected": int(sub.detected.sum()) if len(sub) else 0}
    ge = mon[mon.area_ha >= 0.5] if len(mon) else mon
    small = mon[(mon.area_ha >= 0.2) & (mon.area_ha < 0.5)] if len(mon) else mon
    lats = [x for x in mon.latency_acq.tolist() if x is not None and x == x] if len(mon) else []
    lats_mmu = [x for x in mon.latency_from_mmu_acq.tolist() if x is not None and x == x] if len(mon) else []
    road = score_roads(res, truth)
    return {
        "n_sites_monitored": len(mon), "n_sites_preexisting": int((~sdf.monitored).sum()) if len(sdf) else 0,
        "recall_ge_0_5ha": _ratio(ge.detected.sum() if len(ge) else 0, len(ge)),
        "recall_0_2_to_0_5ha": _ratio(small.detected.sum() if len(small) else 0, len(small)),
        "recall_by_size": rec,
        "precision": round(precision, 4), "n_alert_polygons": len(polys), "n_true_polygons": tp_poly,
        "confounder_alerts": int(sum(by_kind.values())), "confounder_alerts_by_kind": by_kind,
        "other_false_alerts": other, "false_alert_centroids_epsg32748": fp_examples[:20],
        "median_latency_acq": float(np.median(lats)) if lats else None,
        "latencies_acq": lats,
        "median_latency_from_mmu_acq": float(np.median(lats_mmu)) if lats_mmu else None,
        "latencies_from_mmu_acq": lats_mmu,
        **road, "sites": sites,
        "idempotent_rerun": bool(res["idempotent"]), "n_weeks": res["n_weeks"], "n_acquisitions": res["n_acq"],
        "runtime_s": round(res["seconds"], 1),
    }


def _ratio(a: float, b: int) -> float | None:
    return round(float(a) / b, 4) if b else None


def score_roads(res: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
    """Segment-level: truth = corridor overlaps a road-damage footprint that began after the warm-up
    (>= 20 % of the corridor); predicted = ``damaged`` in any week (the product's flag already
    requires the evidence on ``persist_looks`` clear looks in a row).  Segments hit by damage that
    began during the warm-up (already in the baseline) are left out of both."""
    rp = load_road_params()
    segs = res["segments"]
    corr = segs.geometry.buffer(rp.corridor_half_width_m, cap_style="flat")
    dmg = truth["events"][truth["events"].kind == "road_damage"]
    truth_ids, ignore = set(), set()
    spans: dict[str, tuple[str, str]] = {}  # truth segment -> (onset week, repair week) of its damage
    for _, r in dmg.iterrows():
        frac = corr.intersection(r.geometry).area / corr.area
        ids = set(segs.segment_id[frac >= 0.2])
        (truth_ids if r.start >= res["warm_end"] else ignore).update(ids)
        ignore.update(set(segs.segment_id[(frac > 0) & (frac < 0.2)]))
        if r.start >= res["warm_end"]:
            w0 = composites.iso_week(pd.Timestamp(r.start).date())
            w1 = composites.iso_week(pd.Timestamp(r.end).date()) if pd.notna(r.end) else "9999-W99"
            for sid in ids:
                a, b = spans.get(sid, (w0, w1))
                spans[sid] = (min(a, w0), max(b, w1))
    ignore -= truth_ids
    weeks_damaged = res["roads"].groupby("segment_id")["damaged"].sum()
    pred = set(weeks_damaged[weeks_damaged >= 1].index)
    pred -= ignore
    tp = len(pred & truth_ids)
    table = res["roads"]
    ev = truth["events"]
    ev_tree = STRtree(list(ev.geometry))
    seg_geom = dict(zip(segs.segment_id, corr, strict=False))

    def describe(sid: str) -> dict[str, Any]:
        rows = table[table.segment_id == sid]
        d = rows[rows.damaged]
        near = ev.kind.iloc[ev_tree.query(seg_geom[sid].buffer(30), predicate="intersects")].tolist()
        return {"segment_id": sid, "weeks_damaged": len(d), "first_week": d.week.min() if len(d) else None,
                "max_score": round(float(rows.score.max()), 3),
                "mean_damaged": {k: round(float(d[k].mean()), 3) for k in ("water", "bare", "veg_loss",
                                                                            "surface_change")} if len(d) else {},
                "near_events": sorted(set(near))}

    fp_diag = [describe(x) for x in sorted(pred - truth_ids)][:25]
    fn_diag = [describe(x) for x in sorted(truth_ids - pred)][:25]
    p = tp / len(pred) if pred else 1.0
    r = tp / len(truth_ids) if truth_ids else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    # How often each truth segment was seen while damaged: a look is a week in which the segment had
    # clear corridor pixels (``last_look`` == week).  Damage that was never seen clear, or seen once,
    # cannot pass a persistence rule; the split says how much of the recall gap is the sky's.
    looked = table[table["last_look"] == table["week"]]
    looks = {sid: int(((looked.segment_id == sid) & (looked.week >= w0) & (looked.week <= w1)).sum())
             for sid, (w0, w1) in spans.items() if sid in truth_ids}
    by_looks: dict[str, list[int]] = {"0": [0, 0], "1": [0, 0], ">=2": [0, 0]}
    for sid, n in looks.items():
        k = "0" if n == 0 else "1" if n == 1 else ">=2"
        by_looks[k][0] += sid in pred
        by_looks[k][1] += 1
    return {"road_precision": round(p, 4), "road_recall": round(r, 4), "road_f1": round(f1, 4),
            "road_truth_segments": len(truth_ids), "road_pred_segments": len(pred), "road_tp": tp,
            "road_found_by_clear_looks": {k: {"found": v[0], "truth": v[1]} for k, v in by_looks.items()},
            "road_false_positives": fp_diag, "road_misses": fn_diag}


def pool(per: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Pool site counts and alert polygons over scenarios (not averages of ratios)."""
    def s(key_fn):
        return sum(key_fn(v) for v in per.values())
    sites = [x for v in per.values() for x in v["sites"] if x["monitored"]]
    ge = [x for x in sites if x["area_ha"] >= 0.5]
    small = [x for x in sites if 0.2 <= x["area_ha"] < 0.5]
    by_kind = {k: s(lambda v, k=k: v["confounder_alerts_by_kind"][k]) for k in CONFOUNDERS}
    n_poly = s(lambda v: v["n_alert_polygons"])
    lats = [x for v in per.values() for x in v["latencies_acq"]]
    lats_mmu = [x for v in per.values() for x in v["latencies_from_mmu_acq"]]
    tp, pr, tr = s(lambda v: v["road_tp"]), s(lambda v: v["road_pred_segments"]), s(lambda v: v["road_truth_segments"])
    rp_, rr_ = (tp / pr if pr else 1.0), (tp / tr if tr else 1.0)
    return {
        "n_sites_monitored": len(sites),
        "recall_ge_0_5ha": _ratio(sum(x["detected"] for x in ge), len(ge)),
        "recall_0_2_to_0_5ha": _ratio(sum(x["detected"] for x in small), len(small)),
        "precision": round(s(lambda v: v["n_true_polygons"]) / n_poly, 4) if n_poly else 1.0,
        "n_alert_polygons": n_poly,
        "confounder_alerts": sum(by_kind.values()), "confounder_alerts_by_kind": by_kind,
        "other_false_alerts": s(lambda v: v["other_false_alerts"]),
        "median_latency_acq": float(np.median(lats)) if lats else None,
        "median_latency_from_mmu_acq": float(np.median(lats_mmu)) if lats_mmu else None,
        "road_precision": round(rp_, 4), "road_recall": round(rr_, 4),
        "road_f1": round(2 * rp_ * rr_ / (rp_ + rr_), 4) if rp_ + rr_ else 0.0,
        "road_found_by_clear_looks": {
            k: {f: s(lambda v, k=k, f=f: v.get("road_found_by_clear_looks", {}).get(k, {}).get(f, 0))
                for f in ("found", "truth")} for k in ("0", "1", ">=2")},
    }


NOTES = """## Definitions and caveats

* **Data**: three simulated catalogs (`simulate.scenario("demo", seed=42)` = tuning,
  `("demo", seed=2027)` and `("hard", seed=1234)` = held out), each one canonical 10 km tile,
  2025-06-01..2026-11-22 (108 acquisitions, 5-day revisit), loaded with `sources.load_cube`.
  The benchmark runs the real weekly path: backfill -> per-week `clear_mask` -> per-acquisition
  `peti_evidence` -> `weekly_composite` -> `roads.score_segments` -> `baseline.update_state`
  (ongoing detections and damaged road corridors excluded), state stored per tile with
  `baseline.write_state`/`read_state`.
* **Monitored sites** are PETI events whose onset is after the 90-day warm-up; sites that began
  earlier are part of the baseline (listed as pre-existing; alerts on them still count as true
  for precision). Size class = largest truth area reached by the end of the period.
* **Precision** is per alert polygon (confidence >= medium, 8-connected, >= 0.1 ha): true when
  it touches any PETI footprint. Confounder alerts = false polygons within 20 m of a confounder
  footprint, by kind; other false alerts are counted separately.
* **Latency** (`median_latency_acq`): clear looks of the site (>= 50 % of its maximum footprint
  clear) from the truth onset up to, not including, the look that raised the alert. The sites
  grow from nothing, so much of this is the time a site needs to reach a visible size;
  `median_latency_from_mmu_acq` counts from the first date the truth area reached 0.1 ha.
* **Roads**: 100 m segments of `truth/roads.geojson`; a segment is truly damaged when >= 20 % of
  its 10 m corridor is covered by a road-damage footprint that began after the warm-up; predicted
  when `damaged` in any week (the flag needs the evidence on `persist_looks` of the segment's last
  `persist_window` clear looks, or one decisive look backed by a neighbouring segment);
  segments touched by damage that began in the warm-up (already in the baseline) or by < 20 % of
  their corridor are left out of both. Road settings were tuned offline with
  `benchmarks/roads_eval.py` on demo-42 and nine extra simulated worlds (demo tiles of other
  seeds: `roadtune-3/5/7/11` with 15 road-damage events per 100 km2, `demotune-13/17/19/23/29` as
  simulated), then frozen; demo-2027 and hard-1234 are held out, and so are two road-dense worlds
  simulated after the freeze (`roadheld-41/43`, scored by `roads_eval.py` only: 79 damaged
  segments). "Found by clear looks" splits the truth by the number of weeks a segment was seen
  clear while damaged: damage never seen clear cannot be found by any optical detector, and damage
  seen once cannot pass a two-look persistence rule unless that look is decisive.
* Small samples: a few to ~10 monitored sites per scenario, so one site moves recall by 10-30 %.
"""

TARGETS = {"recall_ge_0_5ha": (">=", 0.95), "recall_0_2_to_0_5ha": (">=", 0.8), "precision": (">=", 0.95),
           "confounder_alerts": ("==", 0), "median_latency_acq": ("<=", 1), "road_f1": (">=", 0.9)}


def _met(v: Any, op: str, t: float) -> str:
    if v is None:
        return "n/a"
    return "yes" if {">=": v >= t, "<=": v <= t, "==": v == t}[op] else "**no**"


def write_md(result: dict[str, Any], path: Path) -> None:
    pooled = result["pooled"]
    lines = ["# Detection benchmark", "",
             f"Generated {result['generated']} by `benchmarks/detection.py`. Simulated catalogs "
             "(`sarolangun_geo.simulate`); thresholds tuned on **demo seed 42** only, the others are held out.",
             f"Warm-up (baseline backfill) {WARMUP_DAYS} days; alert = confidence >= {ALERT_CONF} (medium); "
             f"polygons 8-connected, MMU {MMU_HA} ha. Latency = clear looks of the site (>= 50 % of its "
             "footprint clear) after onset *before* the look that raised the alert (0 = alerted on the first "
             "clear look after onset).", "",
             "## Pooled", "", "| metric | value | target | met |", "|---|---|---|---|"]
    for k, (op, t) in TARGETS.items():
        lines.append(f"| {k} | {pooled.get(k)} | {op} {t} | {_met(pooled.get(k), op, t)} |")
    lines.append(f"| median_latency_from_mmu_acq (info) | {pooled.get('median_latency_from_mmu_acq')} | - | - |")
    fl = pooled.get("road_found_by_clear_looks") or {}
    if fl:
        lines.append("| damaged road segments found / truth, by clear looks while damaged (info) | "
                     + ", ".join(f"{k}: {v['found']}/{v['truth']}" for k, v in fl.items()) + " | - | - |")
    lines += ["", f"Confounder alerts by kind: `{json.dumps(pooled['confounder_alerts_by_kind'])}`; "
              f"other false alerts: {pooled['other_false_alerts']}; alert polygons: {pooled['n_alert_polygons']}; "
              f"monitored sites: {pooled['n_sites_monitored']}.", "", "## Per scenario", "",
              "| scenario | role | sites (mon/pre) | recall >=0.5 ha | recall 0.2-0.5 ha | precision | confounder "
              "alerts | median latency (from 0.1 ha) | road P/R/F1 | runtime s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for key, v in result["scenarios"].items():
        lines.append(f"| {key} | {v['role']} | {v['n_sites_monitored']}/{v['n_sites_preexisting']} | "
                     f"{v['recall_ge_0_5ha']} | {v['recall_0_2_to_0_5ha']} | {v['precision']} | "
                     f"{v['confounder_alerts']} {json.dumps({k: n for k, n in v['confounder_alerts_by_kind'].items() if n})} | "
                     f"{v['median_latency_acq']} ({v.get('median_latency_from_mmu_acq')}) | {v['road_precision']}/{v['road_recall']}/{v['road_f1']} | "
                     f"{v['runtime_s']} |")
    lines += ["", "## Missed monitored sites", ""]
    for key, v in result["scenarios"].items():
        for s in v["sites"]:
            if s["monitored"] and not s["detected"]:
                lines.append(f"- {key} {s['event_id']}: {s['area_ha']} ha, onset {s['onset']}, "
                             f"{s['clear_looks_after_onset']} clear looks after onset")
    lines += ["", result.get("notes", "")]
    path.write_text("\n".join(lines) + "\n")


def run_one(job: tuple[str, int, str, Path]) -> tuple[str, dict[str, Any]]:
    """Simulate (if not cached), detect and score one scenario."""
    name, seed, role, data = job
    key = f"{name}-{seed}"
    out = data / key
    cfg = simulate.scenario(name, seed=seed)
    cat = out / "catalog.json"
    if not cat.exists() or not (out / "truth" / "events.geojson").exists():
        log(f"simulating {key} ...")
        simulate.simulate_catalog(out, cfg, workers=1)
    truth = load_truth(out, simulate.sim_geobox(cfg))
    log(f"running detection on {key}")
    res = run_detection(cat, out / "work", truth)
    value = {"role": role, **score_scenario(res, truth)}
    log(f"{key}: " + json.dumps({k: value[k] for k in ("recall_ge_0_5ha", "recall_0_2_to_0_5ha", "precision",
                                                       "confounder_alerts", "median_latency_acq", "road_f1")}))
    return key, value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "bench" / "detection",
                    help="folder for the simulated catalogs and state (cached between runs)")
    ap.add_argument("--quick", action="store_true", help="only the small 'test' scenario (smoke run)")
    ap.add_argument("--only", default=None, help="run only scenario NAME-SEED (e.g. demo-42)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--jobs", type=int, default=1, help="scenarios run in parallel processes")
    args = ap.parse_args(argv)
    dask.config.set(scheduler="threads", num_workers=1 if args.jobs > 1 else 2)
    todo = QUICK if args.quick else SCENARIOS
    if args.only:
        todo = [s for s in todo if f"{s[0]}-{s[1]}" == args.only]
    per: dict[str, dict[str, Any]] = {}
    jobs = [(name, seed, role, args.data) for name, seed, role in todo]
    if args.jobs > 1 and len(jobs) > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(min(args.jobs, len(jobs))) as workers:
            results = workers.map(run_one, jobs)
    else:
        results = [run_one(j) for j in jobs]
    for key, value in results:
        per[key] = value
    result = {"generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "warmup_days": WARMUP_DAYS, "alert_confidence": ALERT_CONF, "mmu_ha": MMU_HA,
              "tuned_on": "demo-42", "pooled": pool(per), "scenarios": per}
    result.update(result["pooled"])
    result["notes"] = NOTES
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "detection" if not (args.quick or args.only) else f"detection-{args.only or 'quick'}"
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1, default=str))
    write_md(result, args.out / f"{stem}.md")
    log(f"wrote {args.out / (stem + '.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
