"""The site registry: one GeoPackage holding every site's identity and history.

Every write follows the same path, so it is transactional, atomic and
deterministic:

1. take the lock ``<registry>.lock`` (:mod:`.lock`; a second run gets
   :class:`RegistryLockedError`);
2. validate the existing file (header, truncation, ``PRAGMA integrity_check``,
   schema version); a corrupt file raises :class:`RegistryCorruptError` and is
   never written; an older schema raises :class:`SchemaVersionError` unless
   migration was asked for (:meth:`Registry.migrate`, which keeps a backup);
3. copy it to a working file and apply the change in one SQLite transaction;
4. build a *fresh* GeoPackage from the working file (:func:`.gpkg.build`) and
   ``os.replace`` it over the registry (atomic), fsyncing file and folder.

Because step 4 copies rows in primary-key order into a new file with fixed
DDL, the bytes depend only on the content: rerunning the latest week with
the same input gives a byte-identical file.  Rerunning the latest week first
restores the state before it (``_prev_*`` snapshot tables), so the week is
applied exactly once; weeks older than the latest are refused.  ``runs``
keeps the time the input was *first* ingested (``created_utc``) when the
input hash is unchanged.

Tables: see :mod:`.schema`.  Nothing is deleted except the rows of the week
being rerun; merged sites stay in ``sites`` with ``merged_into`` set.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import __version__, grid
from ..config import config_hash
from ..errors import RegistryError, SchemaVersionError, SitesInputError
from . import gpkg, store
from .lifecycle import week_bounds
from .lock import RegistryLock
from .params import SitesConfig, load_sites_config
from .schema import SCHEMA_VERSION, SITE_COLUMNS, SNAPSHOT_TABLES, TABLES, migrate_v0
from .update import empty_state, refresh, site_number, step
from .verification import VerificationReport, read_verifications

__all__ = ["SITES_COLUMNS", "Registry", "RunInfo"]

_CRS = f"EPSG:{grid.CRS_EPSG}"
_SECTION4 = ["site_id", "status", "confidence", "area_ha", "first_seen", "last_seen", "kecamatan",
             "kode_kemendagri_kec", "kode_bps_kec", "desa", "kode_desa", "lat", "lon", "lat_dms", "lon_dms",
             "dist_water_m", "dist_road_m", "legality", "priority", "priority_rank", "n_confirm", "obs_dates",
             "evidence", "d_ndvi", "d_bsi", "d_mndwi", "d_ndti", "verification", "suppressed"]
#: Columns of :meth:`Registry.sites`: docs §4 in its order, then the extras, then ``geometry``.
SITES_COLUMNS = _SECTION4 + [c for c, _ in SITE_COLUMNS if c not in _SECTION4] + ["geometry"]
_ROAD_COLS = ("segment_id", "road_id", "week", "score", "confidence", "damaged", "water", "bare", "veg_loss",
              "surface_change", "n_clear")


@dataclass(frozen=True)
class RunInfo:
    """Provenance of one weekly run: data sources and item ids used.

    ``config_hash`` is the pipeline's hash of all its settings; when empty, the
    hash of the sites settings (:func:`config.config_hash`) is stored instead.
    """

    sources: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    config_hash: str = ""


def _hash_frame(df: pd.DataFrame | None) -> str:
    if df is None:
        return "none"
    h = hashlib.sha256()
    plain = pd.DataFrame(df).drop(columns=[c for c in ("geometry",) if c in df.columns])
    h.update(plain.to_json(orient="split", double_precision=10, date_format="iso").encode())
    if "geometry" in df.columns and len(df):
        for w in shapely.to_wkb(np.asarray(df["geometry"].values, dtype=object)):
            h.update(w or b"")
    return h.hexdigest()


class Registry:
    """The site registry GeoPackage at ``path`` (created on the first write).

    Parameters
    ----------
    path
        The ``.gpkg`` file.
    config
        Sites settings (default: ``data/config/sites.toml``).
    lock_timeout
        Seconds to wait for another run's lock before failing.
    """

    def __init__(self, path: str | Path, config: SitesConfig | None = None, lock_timeout: float = 0.0) -> None:
        self.path = Path(path)
        self.config = config or load_sites_config()
        self.lock_timeout = lock_timeout

    # ------------------------------------------------------------------ reading
    def _connect_ro(self, full_check: bool = False) -> sqlite3.Connection:
        if not self.path.exists():
            raise RegistryError(f"registry {self.path} does not exist yet; it is created by the first upsert()")
        store.validate_file(self.path, full=full_check)
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        version = store.schema_version(con, self.path)
        if version < SCHEMA_VERSION:
            con.close()
            raise SchemaVersionError(
                f"registry {self.path} has schema version {version}, older than {SCHEMA_VERSION}; migrate it with "
                f"Registry({str(self.path)!r}).migrate() (a backup {self.path.name}.v{version}.bak is kept)")
        return con

    def _read(self, name: str, where: str = "", params: tuple = ()) -> pd.DataFrame:
        con = self._connect_ro()
        try:
            return store.read_table(con, name, where, params)
        finally:
            con.close()

    def check(self) -> int:
        """Full validation (``integrity_check``); returns the schema version."""
        if not self.path.exists():
            raise RegistryError(f"registry {self.path} does not exist")
        store.validate_file(self.path, full=True)
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            return store.schema_version(con, self.path)
        finally:
            con.close()

    def meta(self) -> dict[str, str]:
        """``registry_meta`` (schema_version, next_site_id, latest_week ...)."""
        con = self._connect_ro()
        try:
            return store.read_meta(con)
        finally:
            con.close()

    def sites(self, include_retired: bool = False) -> gpd.GeoDataFrame:
        """Current site table (docs §4), EPSG:32748; retired (merged) sites only on request.

        Empty (with all columns) while the registry file does not exist yet.
        """
        if not self.path.exists():
            return gpd.GeoDataFrame(pd.DataFrame(columns=SITES_COLUMNS), geometry="geometry", crs=_CRS)
        df = self._read("sites")
        if not include_retired:
            df = df[df["merged_into"].isna() | (df["merged_into"] == "")]
        df = df.reindex(columns=SITES_COLUMNS).reset_index(drop=True)
        df["suppressed"] = df["suppressed"].fillna(0).astype(bool)
        for c in ("verification", "obs_dates", "evidence", "kode_bps_kec", "legality_detail", "merged_ids"):
            df[c] = df[c].fillna("")
        return gpd.GeoDataFrame(df, geometry="geometry", crs=_CRS)

    def observations(self, site_id: str | None = None) -> gpd.GeoDataFrame:
        """Weekly history (``site_observations``), optionally of one site."""
        df = self._read("site_observations", "WHERE site_id = ?", (site_id,)) if site_id else \
            self._read("site_observations")
        return gpd.GeoDataFrame(df.drop(columns="fid"), geometry="geometry", crs=_CRS)

    def verifications(self) -> pd.DataFrame:
        """All verification rows in import order."""
        return self._read("verifications").drop(columns="fid")

    def runs(self) -> pd.DataFrame:
        """Provenance rows, one per week."""
        return self._read("runs").drop(columns="fid")

    def road_scores(self) -> pd.DataFrame:
        """Weekly road-segment scores."""
        return self._read("road_scores").drop(columns="fid")

    def road_segments(self) -> gpd.GeoDataFrame:
        """Road segments (latest geometry), EPSG:32748."""
        return gpd.GeoDataFrame(self._read("road_segments").drop(columns="fid"), geometry="geometry", crs=_CRS)

    # ------------------------------------------------------------------ writing
    def _write(self, change: Callable[[sqlite3.Connection], Any], allow_v0: bool = False) -> Any:
        """Run ``change`` on a working copy inside a transaction and atomically replace the registry."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with RegistryLock(self.path, self.lock_timeout):
            tmpdir = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
            work, out = tmpdir / "work.sqlite", tmpdir / "out.gpkg"
            try:
                if self.path.exists():
                    store.validate_file(self.path, full=True)
                    shutil.copyfile(self.path, work)
                con = sqlite3.connect(work)
                try:
                    if not self.path.exists():
                        with con:
                            gpkg.create_tables(con, TABLES, "1970-01-01T00:00:00.000Z")
                            store.write_meta(con, {"schema_version": str(SCHEMA_VERSION), "next_site_id": "1",
                                                   "latest_week": ""})
                    version = store.schema_version(con, self.path)
                    if version < SCHEMA_VERSION and not allow_v0:
                        raise SchemaVersionError(
                            f"registry {self.path} has schema version {version}, older than {SCHEMA_VERSION}; "
                            f"migrate it first with Registry({str(self.path)!r}).migrate() (keeps a backup)")
                    with con:
                        result = change(con)
                    latest = store.read_meta(con).get("latest_week", "")
                finally:
                    con.close()
                last_change = f"{week_bounds(latest)[1].isoformat()}T00:00:00.000Z" if latest else \
                    "1970-01-01T00:00:00.000Z"
                gpkg.build(out, work, TABLES, last_change)
                os.replace(out, self.path)
                gpkg.fsync_dir(self.path.parent)
                return result
            finally:
                shutil.rmtree(tmpdir, ignore_errors=True)

    def migrate(self) -> int:
        """Migrate an older registry to the current schema, keeping ``<name>.v<N>.bak``; returns the old version."""
        version = self.check()
        if version == SCHEMA_VERSION:
            return version
        backup = self.path.with_name(f"{self.path.name}.v{version}.bak")
        shutil.copy2(self.path, backup)
        self._write(migrate_v0, allow_v0=True)
        return version

    def _replace_sites(self, con: sqlite3.Connection, table: str, df: pd.DataFrame) -> None:
        con.execute(f"DELETE FROM {table}")
        store.write_rows(con, table, df, [site_number(s) for s in df["site_id"]])

    def _append(self, con: sqlite3.Connection, table: str, df: pd.DataFrame) -> None:
        start = (con.execute(f"SELECT max(fid) FROM {table}").fetchone()[0] or 0) + 1
        store.write_rows(con, table, df, range(start, start + len(df)))

    def upsert(self, week: str, sites: gpd.GeoDataFrame, *, roads: gpd.GeoDataFrame | None = None,
               footprint_stats: pd.DataFrame | None = None, recovery: Mapping[str, bool] | None = None,
               run: RunInfo | None = None, now: dt.datetime | None = None, span_weeks: int = 1) -> dict[str, int]:
        """Add one week: match, allocate ids, advance the lifecycle, store history and provenance.

        Parameters
        ----------
        week
            ISO week ``YYYY-Www``; must be later than or equal to the latest week
            stored (equal = rerun, which replaces that week exactly).
        sites
            This week's polygons, ideally from :func:`.attributes.attribute_sites`
            (needs ``geometry`` and ``area_ha``; other columns optional).
        roads
            Road-damage segments of the week (docs §3), or None.
        footprint_stats, recovery
            Rehabilitation signal and clear observation of each site's
            footprint (:attr:`EvidenceVectors.footprint_stats`), or an explicit
            recovery ``{site_id: bool}``.
        run
            Sources and item ids for ``runs``.
        now
            Timestamp for ``runs.created_utc`` (default: the current UTC time).
        span_weeks
            Weeks of acquisitions the run folded, ending with ``week`` (a
            catch-up span; 1 for a weekly run).  Fresh evidence is evidence
            inside this window, and the window caps the clear-week credit
            (:mod:`.lifecycle`).

        Returns
        -------
        dict
            ``n_polygons, n_new, n_merged, n_split, n_sites``.
        """
        week_bounds(week)
        if int(span_weeks) < 1:
            raise SitesInputError(f"span_weeks={span_weeks}: a run folds at least one week; pass 1 for a weekly "
                                  "run or the number of weeks of a catch-up span")
        if "geometry" not in sites or "area_ha" not in sites:
            raise SitesInputError("sites must have 'geometry' and 'area_ha' columns; build it with "
                                  "sites.polygonize.vectorize + sites.attributes.attribute_sites")
        polys = sites.to_crs(_CRS) if sites.crs is not None else sites
        run = run or RunInfo()
        chash = run.config_hash or config_hash(self.config)
        ihash = hashlib.sha256("|".join([week, _hash_frame(polys), _hash_frame(roads), _hash_frame(
            footprint_stats), json.dumps(sorted((recovery or {}).items())), chash, json.dumps(list(run.sources)),
            json.dumps(list(run.items)), *([f"span={span_weeks}"] if span_weeks != 1 else [])]
        ).encode()).hexdigest()[:16]  # (a one-week run hashes as before spans were recorded)
        stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")

        def change(con: sqlite3.Connection) -> dict[str, int]:
            meta = store.read_meta(con)
            latest = meta.get("latest_week", "")
            created = stamp
            if latest and week < latest:
                raise RegistryError(f"week {week} is older than the latest week {latest} in {self.path}; the "
                                    "lifecycle only moves forward: rebuild the registry from that week on")
            if week == latest and meta.get("snapshot_week") != week:
                raise RegistryError(f"week {week} in {self.path} was not written by upsert() (it was migrated), so "
                                    "there is no snapshot to rerun it from; continue with the next week")
            if week == latest:
                old = con.execute("SELECT input_hash, created_utc FROM runs WHERE week = ?", (week,)).fetchone()
                if old and old[0] == ihash:
                    created = old[1]
                for t in SNAPSHOT_TABLES:
                    con.execute(f"DELETE FROM {t}")
                    con.execute(f"INSERT INTO {t} SELECT * FROM _prev_{t}")
                for t in ("site_observations", "road_scores", "runs"):
                    con.execute(f"DELETE FROM {t} WHERE week = ?", (week,))
                meta["next_site_id"] = meta.get("prev_next_site_id", meta["next_site_id"])
            else:
                for t in SNAPSHOT_TABLES:
                    con.execute(f"DELETE FROM _prev_{t}")
                    con.execute(f"INSERT INTO _prev_{t} SELECT * FROM {t}")
                meta.update(prev_next_site_id=meta["next_site_id"], snapshot_week=week)
            state = store.read_table(con, "sites").drop(columns="fid")
            state = state if len(state) else empty_state()
            verifs = store.read_table(con, "verifications")
            res = step(state, polys.reset_index(drop=True), week, int(meta["next_site_id"]), self.config,
                       verifications=verifs, footprint_stats=footprint_stats, recovery=recovery,
                       span_weeks=span_weeks)
            self._replace_sites(con, "sites", res.sites)
            self._append(con, "site_observations", res.observations)
            if roads is not None:
                self._write_roads(con, week, roads)
            run_row = {"week": week, "input_hash": ihash, "config_hash": chash, "package_version": __version__,
                       "sources": json.dumps(list(run.sources)), "items": json.dumps(list(run.items)),
                       "created_utc": created, **res.counts}
            self._append(con, "runs", pd.DataFrame([run_row]))
            meta.update(latest_week=week, next_site_id=str(res.next_id))
            store.write_meta(con, meta)
            return res.counts

        return self._write(change)

    def _write_roads(self, con: sqlite3.Connection, week: str, roads: gpd.GeoDataFrame) -> None:
        missing = [c for c in ("segment_id", "geometry") if c not in roads]
        if missing:
            raise SitesInputError(f"roads lacks {missing}; pass change.roads.score_segments(...) (docs §3)")
        r = (roads.to_crs(_CRS) if roads.crs is not None else roads).sort_values("segment_id")
        r = r.reset_index(drop=True).assign(week=week)
        for c in ("damaged",):
            if c in r:
                r[c] = r[c].astype(bool).astype(int)
        self._append(con, "road_scores", pd.DataFrame(r.reindex(columns=list(_ROAD_COLS))))
        seg = store.read_table(con, "road_segments").drop(columns="fid")
        known = dict(zip(seg["segment_id"], seg["first_week"], strict=True))
        new = pd.DataFrame({"segment_id": r["segment_id"].astype(str), "road_id": r.get("road_id"),
                            "first_week": [known.get(s, week) for s in r["segment_id"].astype(str)],
                            "last_week": week, "geometry": r.geometry.values})
        keep = seg[~seg["segment_id"].isin(new["segment_id"])]
        allseg = pd.concat([keep, new], ignore_index=True).sort_values("segment_id").reset_index(drop=True)
        con.execute("DELETE FROM road_segments")
        store.write_rows(con, "road_segments", allseg, range(1, len(allseg) + 1))

    def add_verifications(self, rows: pd.DataFrame) -> tuple[int, int]:
        """Append validated verification rows; returns (added, already present).

        ``rows`` has the columns of :attr:`VerificationReport.rows`.  The site's
        current area is stored with each row (for suppression).  Then the
        verification-derived site fields and priorities are refreshed.
        """
        def change(con: sqlite3.Connection) -> tuple[int, int]:
            state = store.read_table(con, "sites").drop(columns="fid")
            area = dict(zip(state["site_id"], state["area_ha"], strict=True))
            latest = store.read_meta(con).get("latest_week", "")
            have = {r[0] for r in con.execute("SELECT row_hash FROM verifications")}
            add = []
            for r in rows.to_dict("records"):
                key = json.dumps([r["site_id"], r["date"], r["team"], r["outcome"], r.get("note", ""),
                                  r.get("photo", "")])
                h = hashlib.sha256(key.encode()).hexdigest()[:24]
                if h in have:
                    continue
                have.add(h)
                add.append({**r, "row_hash": h, "site_area_ha": area.get(r["site_id"]), "after_week": latest})
            if add:
                self._append(con, "verifications", pd.DataFrame(add))
                verifs = store.read_table(con, "verifications")
                self._replace_sites(con, "sites", refresh(state, verifs, self.config))
            return len(add), len(rows) - len(add)

        return self._write(change)

    def import_verifications(self, path: str | Path) -> VerificationReport:
        """Read, validate and append a CSV/GeoJSON/XLSX verification file; returns the report."""
        known = set(self.sites(include_retired=True)["site_id"]) if self.path.exists() else set()
        report = read_verifications(path, known_site_ids=known)
        if len(report.rows):
            report.n_added, report.n_duplicate = self.add_verifications(report.rows)
        return report

    def site_history(self, site_ids: Sequence[str]) -> pd.DataFrame:
        """Observation rows of several sites (without geometry), ordered by week."""
        obs = self.observations()
        return pd.DataFrame(obs[obs["site_id"].isin(list(site_ids))].drop(columns="geometry"))
