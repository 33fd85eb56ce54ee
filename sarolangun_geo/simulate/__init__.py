"""A seeded Sentinel-2 L2A simulator for Kabupaten Sarolangun, written as a static STAC catalog.

``simulate_catalog(out_dir, scenario("demo"))`` writes ``catalog.json`` ->
``sentinel-2-l2a/collection.json`` -> one Item per MGRS tile and acquisition in the
form of Earth Search v1 (assets ``blue green red nir`` at 10 m, ``swir16 swir22 scl``
at 20 m), plus the truth in ``truth/`` (docs/architecture.md §1).  Same seed, same
bytes.  Everything is SIMULATED; items carry ``sarolangun:simulated: true``.

Assumptions (numbers and where they come from)
----------------------------------------------
Geometry and sensor
    * Canonical grid EPSG:32748, 10 m; generation tile by tile (1000 x 1000 px) with a
      32 px margin; 20 m bands are 2 x 2 block means; SCL at 20 m (uint8, as Earth Search).
    * Revisit 5 days (S2B + S2C since S2C replaced S2A on 2025-01-21; S2A + S2B from mid-2017),
      one descending pass ~03:38 UTC (10:30 mean local solar time).  Sun position from the
      NOAA approximation: zenith 25–35°, azimuth NE in June, SE in December.
    * DN = (reflectance + 0.1) x 10 000 from 2022-01-25 (baseline 04.00, BOA_ADD_OFFSET
      -1000), DN = reflectance x 10 000 before; nodata 0 (``bands.reflectance_to_dn``).
    * Radiometric noise σ = σ0 (1 + 3 ρ) with σ0 = 0.003 (B2–B4), 0.0045 (B8), 0.004/0.0035
      (B11/B12) reflectance — S2 MSI SNR is ~100–170 at reference radiance, and L2A adds
      retrieval noise; ±1.2 % per-band per-date calibration/atmospheric-correction jitter.
    * PSF: Gaussian σ = 0.45 px (MTF ≈ 0.2–0.3 at Nyquist); residual adjacency 4 % of an
      ~80 m blur; terrain shading ``0.3 + 0.7 cos(i)/cos(z)`` (Sen2Cor's terrain correction
      on a 90 m DEM leaves most of the hill shading visible in L2A); cast shadow (x 0.3) by
      ray marching on a 40 m DEM.  DEM: 25 m (east) to ~650 m (west) fBm + ridged noise,
      flattened near rivers (floodplains ~1 km around main rivers).
Land and spectra (L2A reflectance, B2 B3 B4 B8 B11 B12; see :mod:`.spectra`)
    * Forest (0.021 0.045 0.024 0.30 0.15 0.063), rubber (NIR 0.33, leaf fall mid-August
      −25 % NIR), oil palm (0.32 NIR, regular blocks with 280–420 m estate tracks), rice
      (flooded → green NIR 0.40 → ripe → stubble; flooding Oct–Nov, and Apr–May on ~45 %
      of schemes), villages (roofs + home gardens), asphalt, laterite dirt roads.
      Typical of published S2 values over Sumatran covers and of USGS/ECOSTRESS library
      spectra resampled to S2 bands.
    * PETI: pits/ponds of ochre, sediment-laden water (0.060 0.105 0.125 0.075 0.028 0.018,
      red > green, elevated NIR), bright quartz tailings (0.22 0.26 0.29 0.33 0.40 0.33),
      wet mud; sites 0.2–40 ha log-uniform, on river banks or straddling tributaries,
      growing outward from the water over 20–160 days; 15 % already active when the record
      starts, the rest start uniformly from start+30 d to end−20 d; 30 % stop and revegetate
      (ponds settle and turn green over ~150 d, spoil regrows to ≤ 70 % grass/shrub over
      ~400 d); 30 % of river sites run floating dredges whose plume makes 1.5–4 km of river
      downstream more turbid (0.070 0.112 0.132 0.082).
    * Rivers: turbid brown main river 40–80 m wide (0.052 0.078 0.082 0.048, more turbid at
      high water), darker forest tributaries 8–24 m; meanders from a noise-driven AR(2)
      heading process with wavelength ≈ 12–20 channel widths.  Stage lowest mid-July,
      highest mid-January (± rain jitter); point bars at bends emerge when bar height
      exceeds ``0.2 + stage`` (the sandbar confounder).
Clouds and atmosphere
    * Monthly mean cloud fraction at overpass time (Jan..Dec): 0.76 0.70 0.72 0.68 0.58
      0.48 0.42 0.42 0.50 0.66 0.80 0.82 — Sumatra's ~70–80 % annual cloud frequency
      (MODIS cloud climatology, Wilson & Jetz 2016) with the Jun–Sep drier season;
      per-date fraction ~ Beta(2.2 m, 2.2 (1 − m)).  fBm clouds, 2.5–7 km features in the
      dry season, up to 18 km in the wet season; cloud base/top 0.7–3 km; shadows displaced
      by h·tan(zenith) away from the sun; thin cirrus; smoke haze in Aug–Oct (fire season).
    * SCL: see :mod:`.scl` for the ways it is deliberately wrong.
Events (truth): PETI and road damage are targets; plantation clearing/replanting, rice
flooding, dry-season sandbars, landslides and village growth are confounders.

Limits: no BRDF/view-angle effects, no detector striping, no saturation, only 7 of the
13+ Earth Search assets, assets cover only the simulated area of each MGRS tile, rivers
and roads are synthetic (not the real hydrography).
"""

from __future__ import annotations

from .catalog import plan_items, prepare, simulate_catalog
from .config import SCENARIOS, Acquisition, SimConfig, acquisitions, scenario, sim_geobox, sim_tiles

__all__ = [
    "SCENARIOS",
    "Acquisition",
    "SimConfig",
    "acquisitions",
    "plan_items",
    "prepare",
    "scenario",
    "sim_geobox",
    "sim_tiles",
    "simulate_catalog",
]
