"""Fast offline evaluation of road-damage detection on the simulated benchmark catalogs.

The full detection benchmark (``benchmarks/detection.py``) takes about half an hour per
scenario, mostly PETI evidence per acquisition.  Road scoring only needs, per week, the
clear composite and the baseline statistics, so this harness works in three cached stages:

0. ``simulate`` (extra tuning worlds only, 3-5 min each): ``roadtune-<seed>`` (the demo tile of
   another seed with 15 road-damage events per 100 km2) and ``demotune-<seed>`` (the demo tile of
   another seed as it is) into ``EXTRA_SIMS``.
1. ``prepare`` (once per scenario, 4-7 min): load the catalog, backfill the baseline over the
   90-day warm-up exactly like ``detection.py``, then for every later week compute the clear
   composite and the baseline statistics and fold the week into the baseline.  Like
   ``detection.py``, the corridors of segments the road detector flags ``damaged`` (with the
   road settings at prepare time) are kept out of the fold; unlike it, PETI detections are not
   (PETI sites keep 20 m off roads; they only touch the context).
   Only pixels within ``KEEP_M`` of a road are cached (``<cache>/<scenario>/``).
   The caches depend on the road settings through that exclusion: prepare again after
   changing the rules.
2. ``tables``: :func:`sarolangun_geo.change.roads.road_tile_evidence` on every cached week
   (the per-tile step of the product; the scenario is one tile) -> one pickle per scenario,
   keyed by the pixel settings and the source of the per-tile half of ``roads.py``.
3. ``score``: :func:`sarolangun_geo.change.roads.score_from_tiles` week by week with the
   segment state carried forward (the combine step of the product), scored against truth with
   :func:`detection.score_roads` (the benchmark's own rule).

Run::

    python benchmarks/roads_eval.py simulate --scenarios roadtune-3 demotune-13   # extra tuning worlds only
    python benchmarks/roads_eval.py prepare [--scenarios demo-42 ...]
    python benchmarks/roads_eval.py eval [--diag] [--set KEY=VALUE ...]   # tables (if stale) + score

``eval`` prints P/R/F1 per scenario, false positives by cause, and pooled counts per group;
``--set`` changes road settings for the run only (experiments).  Tune on ``demo-42``, ``roadtune-*``
and ``demotune-*`` only; ``demo-2027``, ``hard-1234`` and ``roadheld-*`` are held out.  ``ROADS_EVAL_CACHE`` sets the
cache folder (default ``/tmp/roads_eval``).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sarolangun_geo import baseline, composites, masking, simulate  # noqa: E402
from sarolangun_geo.change import roads  # noqa: E402
from sarolangun_geo.change.params import RoadParams, load_detection_params, load_road_params  # noqa: E402
from sarolangun_geo.pipeline.tilework import ROAD_STATS  # noqa: E402
from sarolangun_geo.sources import load_cube  # noqa: E402

SIMS = Path("/tmp/det/sims")  # the detection benchmark's catalogs (<SIMS>/<name>/catalog.json + truth/)
CACHE = Path(os.environ.get("ROADS_EVAL_CACHE", "/tmp/roads_eval"))  # the prepared caches (see prepare)
SCENARIOS = {"demo-42": "tune", "demo-2027": "held-out", "hard-1234": "held-out (hard)"}
#: Extra tuning catalogs (simulated with ``simulate_catalog`` into ``EXTRA_SIMS``): the demo tile with
#: other seeds (other worlds) and more road damage, ``road_damage_per_100km2=15`` ...
EXTRA = {f"roadtune-{seed}": "tune (extra)" for seed in (3, 5, 7, 11)}
#: ... and demo tiles of other seeds with the demo's own (sparse) road damage, like the held-out demo-2027.
EXTRA.update({f"demotune-{seed}": "tune (extra, demo density)" for seed in (13, 17, 19, 23, 29)})
#: Fresh road-dense worlds simulated after the rules were frozen (session 4): held out, never tuned on.
EXTRA.update({f"roadheld-{seed}": "held-out (extra, road-dense)" for seed in (41, 43)})
EXTRA_SIMS = Path("/tmp/roads_sims")
EXTRA_OVERRIDES = {"road_damage_per_100km2": 15.0, "min_road_damage": 10}
WARMUP_DAYS = 90
KEEP_M = 300.0  # cache pixels within this distance of a road (context radius + corridor + margin)
BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
#: Cached layers per week: the composite, the statistics the weekly snapshot keeps for roads, and
#: the seasonal-water statistics the per-tile step can use.
LAYERS = (*BANDS, "n_clear", *ROAD_STATS, "water_freq_max", "seasonal_water")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _cfg(name: str) -> Any:
    key, seed = name.rsplit("-", 1)
    if key in ("roadtune", "roadheld"):
        return simulate.scenario("demo", seed=int(seed), **EXTRA_OVERRIDES)
    if key == "demotune":
        return simulate.scenario("demo", seed=int(seed))
    return simulate.scenario(key, seed=int(seed))


def simulate_extra(name: str) -> None:
    """Simulate one extra tuning catalog (``roadtune-<seed>``) into ``EXTRA_SIMS`` (15-20 min, ~0.8 GB)."""
    if name not in EXTRA:
        raise SystemExit(f"{name}: only the extra tuning worlds {sorted(EXTRA)} are simulated here")
    t0 = time.time()
    simulate.simulate_catalog(sim_dir(name), _cfg(name), workers=1)
    log(f"{name}: simulated in {time.time() - t0:.0f}s")


def sim_dir(name: str) -> Path:
    return EXTRA_SIMS / name if name in EXTRA else SIMS / name


def load_truth(name: str) -> dict[str, Any]:
    """Road network and events of a scenario (EPSG:32748)."""
    out = sim_dir(name) / "truth"
    ev = gpd.read_file(out / "events.geojson").to_crs(32748)
    ev["start"] = pd.to_datetime(ev["start"])
    ev["end"] = pd.to_datetime(ev["end"])
    return {"events": ev, "roads": gpd.read_file(out / "roads.geojson").to_crs(32748)}


# --------------------------------------------------------------------------- 1. prepare

def prepare(name: str) -> None:
    """Cache the weekly composites + baseline statistics of one scenario near its roads."""
    from rasterio import features

    params = load_detection_params()
    cfg = _cfg(name)
    gbox = simulate.sim_geobox(cfg)
    cube = load_cube(gbox, cfg.start, cfg.end, source=sim_dir(name) / "catalog.json")[[*BANDS, "scl"]]
    times = pd.DatetimeIndex(cube.time.values)
    warm_end = pd.Timestamp(cfg.start) + pd.Timedelta(days=WARMUP_DAYS)
    out = CACHE / name
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("tables-*.pkl"):  # tables of an earlier preparation
        old.unlink()
    ckpt = out / "checkpoint.json"  # resume after a crash: the baseline state and the week reached
    done = json.loads(ckpt.read_text()) if ckpt.is_file() else None
    truth = load_truth(name)
    near = features.rasterize([(g, 1) for g in truth["roads"].geometry.buffer(KEEP_M)], out_shape=gbox.shape,
                              transform=gbox.affine, fill=0, dtype="uint8").astype(bool)
    keep = np.flatnonzero(near.ravel())
    np.save(out / "keep.npy", keep)
    t0 = time.time()
    if done is None:
        state = baseline.empty_state(cube, params.baseline)
        warm_idx = np.flatnonzero(times < warm_end)
        for i in range(0, len(warm_idx), 4):  # like detection.py: batches of 4, no reference bands
            part = cube.isel(time=warm_idx[i:i + 4]).compute()
            state = baseline.update_state(state, part, masking.clear_mask(part, params.masking), params.baseline)
        log(f"{name}: backfill {len(warm_idx)} acquisitions in {time.time() - t0:.0f}s")
    else:
        state = baseline.read_state(out / "state", gbox)
        log(f"{name}: resuming after {done['week']}")
    labels = composites.iso_week_labels(times)
    weeks = [w for w in dict.fromkeys(labels) if times[labels == w].min() >= warm_end]
    rp = load_road_params()
    segs = roads.split_segments(truth["roads"], rp.segment_length_m)
    seg_raster = roads.segment_raster(segs, cube, rp.corridor_half_width_m)
    scored = None
    meta = {"weeks": weeks, "layers": list(LAYERS), "shape": list(gbox.shape), "warm_end": str(warm_end.date()),
            "end": str(cfg.end), "dates": {}}
    if done is not None:
        meta["dates"] = done["dates"]
        scored = pd.read_pickle(out / "checkpoint-roads.pkl")
    for n, w in enumerate(weeks):
        if done is not None and w <= done["week"]:
            continue
        wk = cube.isel(time=np.flatnonzero(labels == w)).compute()
        stats = baseline.baseline_stats(state, params.baseline, composites.week_bounds(w)[0]).compute()
        clear = masking.clear_mask(wk, params.masking, baseline.reference_bands(stats)).compute()
        comp = composites.weekly_composite(wk, clear).isel(week=0).compute()
        arr = np.stack([np.asarray(comp[k].values if k in comp else stats[k].values, "float32").ravel()[keep]
                        for k in LAYERS])
        np.save(out / f"{w}.npy", arr)
        meta["dates"][w] = [str(t.date()) for t in pd.DatetimeIndex(wk.time.values)]
        scored = roads.score_segments(segs, comp, stats, rp, w, seg_raster, previous=scored)
        flagged = np.flatnonzero(scored["damaged"].to_numpy()) + 1
        exclude = xr.DataArray(np.isin(seg_raster.values, flagged), dims=("y", "x"), coords=seg_raster.coords)
        state = baseline.update_state(state, wk, clear, params.baseline, exclude=exclude).compute()
        del wk, clear, comp, stats
        gc.collect()  # odc-geo accessor caches hold whole weeks in reference cycles (as in detection.py)
        if n % 8 == 0:
            log(f"{name}: week {w} ({n + 1}/{len(weeks)}) {time.time() - t0:.0f}s")
            baseline.write_state(state, out / "state")
            scored.to_pickle(out / "checkpoint-roads.pkl")
            ckpt.write_text(json.dumps({"week": w, "dates": meta["dates"]}))
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    ckpt.unlink(missing_ok=True)
    log(f"{name}: prepared {len(weeks)} weeks in {time.time() - t0:.0f}s")


# --------------------------------------------------------------------------- 2. tables

def week_inputs(name: str, week: str, gbox: Any, keep: np.ndarray) -> tuple[xr.Dataset, xr.Dataset]:
    """The cached composite and statistics of one week as full-tile Datasets (NaN away from roads)."""
    arr = np.load(CACHE / name / f"{week}.npy")
    coords = {"y": gbox.coords["y"].values, "x": gbox.coords["x"].values}
    names = json.loads((CACHE / name / "meta.json").read_text()).get("layers", LAYERS[:len(arr)])
    layers = {}
    for k, v in zip(names, arr, strict=True):
        full = np.full(gbox.shape[0] * gbox.shape[1], np.nan, "float32")
        full[keep] = v
        layers[k] = full.reshape(gbox.shape)
    ds = xr.Dataset({k: (("y", "x"), v) for k, v in layers.items()}, coords=coords)
    from odc.geo.xr import assign_crs

    ds = assign_crs(ds, gbox.crs)
    comp = ds[[*BANDS, "n_clear"]]
    comp["n_clear"] = comp["n_clear"].fillna(0).astype("uint16")
    stats = ds[[k for k in names if k not in comp]]
    for k in ("permanent_water", "seasonal_water"):
        if k in stats:
            stats[k] = stats[k].fillna(0).astype(bool)
    return comp, stats


#: roads.py is hashed up to this marker: the per-tile step (the tables) is above it, the combine step below.
COMBINE_MARKER = "# --------------------------------------------------------------------------- step 2: combine"


def _pixel_hash(rp: RoadParams) -> str:
    """Key of the cached tables: the pixel parameters and the source of the per-tile step of roads.py."""
    d = {k: v for k, v in dataclasses.asdict(rp).items() if k in roads.PIXEL_PARAMS}
    src = (ROOT / "sarolangun_geo" / "change" / "roads.py").read_text()
    if COMBINE_MARKER not in src:
        raise SystemExit(f"roads.py lacks the marker {COMBINE_MARKER!r} that separates the two steps")
    src = src.split(COMBINE_MARKER)[0] + (ROOT / "sarolangun_geo" / "indices.py").read_text()
    return hashlib.sha256((json.dumps(d, sort_keys=True) + src).encode()).hexdigest()[:12]


def tables(name: str, rp: RoadParams) -> tuple[pd.DataFrame, gpd.GeoDataFrame, dict[str, Any]]:
    """Per-pixel road tables of every week (cached by the pixel parameters and roads.py source)."""
    cfg = _cfg(name)
    gbox = simulate.sim_geobox(cfg)
    meta = json.loads((CACHE / name / "meta.json").read_text())
    truth = load_truth(name)
    segs = roads.split_segments(truth["roads"], rp.segment_length_m)
    path = CACHE / name / f"tables-{_pixel_hash(rp)}.pkl"
    if path.exists():
        return pd.read_pickle(path), segs, meta
    keep = np.load(CACHE / name / "keep.npy")
    seg_raster = None
    parts = []
    t0 = time.time()
    for w in meta["weeks"]:
        comp, stats = week_inputs(name, w, gbox, keep)
        if seg_raster is None:
            seg_raster = roads.segment_raster(segs, comp, rp.corridor_half_width_m)
        t = roads.road_tile_evidence(comp, stats, seg_raster, rp)
        parts.append(t.assign(week=w))
    tab = pd.concat(parts, ignore_index=True)
    tab.to_pickle(path)
    log(f"{name}: tables {len(meta['weeks'])} weeks in {time.time() - t0:.0f}s ({len(tab)} rows)")
    return tab, segs, meta


# --------------------------------------------------------------------------- 3. score

def run_weeks(tab: pd.DataFrame, segs: gpd.GeoDataFrame, weeks: list[str], rp: RoadParams) -> pd.DataFrame:
    """The combine step week by week with the segment state carried forward."""
    prev = None
    rows = []
    by_week = dict(tuple(tab.groupby("week", sort=False)))
    for w in weeks:
        t = by_week.get(w, tab.iloc[:0]).drop(columns="week")
        prev = roads.score_from_tiles(segs, [t], w, rp, previous=prev)
        rows.append(pd.DataFrame(prev.drop(columns="geometry")))
    return pd.concat(rows, ignore_index=True)


def score(name: str, table: pd.DataFrame, segs: gpd.GeoDataFrame, meta: dict[str, Any],
          truth: dict[str, Any]) -> dict[str, Any]:
    """The benchmark's road score, plus (diagnostic only) recall among the observable truth segments."""
    import detection as D

    res = {"segments": segs, "roads": table, "warm_end": pd.Timestamp(meta["warm_end"]),
           "end": pd.Timestamp(meta["end"])}
    out = D.score_roads(res, truth)
    onset = truth_onsets(segs, truth, pd.Timestamp(meta["warm_end"]))
    looks = looks_after(table, onset)
    pred = set(table.loc[table["damaged"], "segment_id"])
    seen2 = [s for s in onset if looks.get(s, 0) >= 2]
    out["looks_while_damaged"] = {s: looks.get(s, 0) for s in sorted(onset)}
    out["observable_truth"] = len(seen2)
    out["observable_recall"] = round(len(pred & set(seen2)) / len(seen2), 4) if seen2 else None
    return out


def truth_onsets(segs: gpd.GeoDataFrame, truth: dict[str, Any], warm_end: pd.Timestamp
                 ) -> dict[str, tuple[str, str]]:
    """Truth segments (the benchmark's rule) and the ISO weeks their damage began and was repaired."""
    corr = segs.geometry.buffer(load_road_params().corridor_half_width_m, cap_style="flat")
    ev = truth["events"]
    out: dict[str, tuple[str, str]] = {}
    for _, r in ev[(ev.kind == "road_damage") & (ev.start >= warm_end)].iterrows():
        frac = corr.intersection(r.geometry).area / corr.area
        w0 = composites.iso_week(r.start.date())
        w1 = composites.iso_week(r.end.date()) if pd.notna(r.end) else "9999-W99"
        for s in segs.segment_id[frac >= 0.2]:
            out[s] = (min(out.get(s, (w0, w1))[0], w0), max(out.get(s, (w0, w1))[1], w1))
    return out


def looks_after(table: pd.DataFrame, onset: dict[str, tuple[str, str]]) -> dict[str, int]:
    """Clear looks of each truth segment while damaged (onset to repair week; ``last_look`` of the run)."""
    t = table[table.segment_id.isin(list(onset)) & (table["last_look"] == table["week"])]
    return {s: int(((g.week >= onset[s][0]) & (g.week <= onset[s][1])).sum()) for s, g in t.groupby("segment_id")}


def fp_cause(fp: dict[str, Any]) -> str:
    """Short cause of a false positive: the evidence kinds while flagged, and the events within 30 m."""
    kinds = [k for k, v in fp["mean_damaged"].items() if v > 0] or ["none"]
    return "+".join(kinds) + " near " + ("/".join(fp["near_events"]) or "nothing")


def pooled(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Segment counts pooled over scenarios (as ``detection.pool``), not averages of ratios."""
    tp = sum(r["road_tp"] for r in results.values())
    pred = sum(r["road_pred_segments"] for r in results.values())
    truth = sum(r["road_truth_segments"] for r in results.values())
    p, rc = (tp / pred if pred else 1.0), (tp / truth if truth else 1.0)
    return {"precision": round(p, 4), "recall": round(rc, 4), "f1": round(2 * p * rc / (p + rc) if p + rc else 0.0, 4),
            "tp": tp, "fp": pred - tp, "fn": truth - tp}


def evaluate(names: list[str], rp: RoadParams, diag: bool = False) -> dict[str, dict[str, Any]]:
    out = {}
    for name in names:
        tab, segs, meta = tables(name, rp)
        t0 = time.time()
        table = run_weeks(tab, segs, meta["weeks"], rp)
        dt_ = time.time() - t0
        r = score(name, table, segs, meta, load_truth(name))
        out[name] = r
        log(f"{name} ({SCENARIOS.get(name, EXTRA.get(name, ''))}): P/R/F1 {r['road_precision']}/"
            f"{r['road_recall']}/{r['road_f1']} truth {r['road_truth_segments']} pred {r['road_pred_segments']} "
            f"tp {r['road_tp']}; truth with >= 2 clear looks while damaged {r['observable_truth']}, recall among "
            f"them {r['observable_recall']} (combine {dt_:.1f}s for {len(meta['weeks'])} weeks)")
        causes: dict[str, int] = {}
        for x in r["road_false_positives"]:
            causes[fp_cause(x)] = causes.get(fp_cause(x), 0) + 1
        if causes:
            log(f"  false positives by cause: {causes}")
        if diag:
            print("  clear looks while damaged:", r["looks_while_damaged"])
            for x in r["road_false_positives"]:
                print("  FP", x)
            for x in r["road_misses"]:
                print("  FN", x)
    role = {**SCENARIOS, **EXTRA}
    groups = {"tuning": [n for n in out if role.get(n, "").startswith("tune")],
              "held-out": [n for n in out if role.get(n, "").startswith("held-out")],
              "detection benchmark (demo-42, demo-2027, hard-1234)": [n for n in out if n in SCENARIOS]}
    for g, members in groups.items():
        if len(members) > 1:
            log(f"pooled {g} {members}: {pooled({n: out[n] for n in members})}")
    return out


def _overrides(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs (VALUE as JSON) -> RoadParams overrides, for experiments."""
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        out[key] = json.loads(value)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=["simulate", "prepare", "eval"])
    ap.add_argument("--scenarios", nargs="*", default=list(SCENARIOS),
                    help=f"of {[*SCENARIOS, *EXTRA]}")
    ap.add_argument("--diag", action="store_true", help="print false positives and misses")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="eval with these roads.toml settings changed (VALUE as JSON), e.g. support_score=0.3")
    a = ap.parse_args(argv)
    if a.stage == "simulate":
        for n in a.scenarios:
            simulate_extra(n)
    elif a.stage == "prepare":
        for n in a.scenarios:
            prepare(n)
    else:
        evaluate(a.scenarios, dataclasses.replace(load_road_params(), **_overrides(a.set)), a.diag)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
