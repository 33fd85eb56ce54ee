"""Field verification: CSV/XLSX/GeoJSON import with bad rows, append-only history, suppression."""

from __future__ import annotations

import datetime as dt
import json

import openpyxl
import pytest
from sites_synth import square, week_polygons

from sarolangun_geo.errors import VerificationImportError
from sarolangun_geo.sites.registry import Registry
from sarolangun_geo.sites.verification import read_verifications

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
X, Y = 270_000.0, 9_735_000.0
S1, S2 = "SRL-PETI-000001", "SRL-PETI-000002"

CSV = f"""site_id,date,team,outcome,note,photo_ref
{S1},2026-01-09,Tim Terpadu,false_positive,sawah baru dibuka,IMG_0012.jpg
{S2},2026-01-09,Tim Terpadu,confirmed,,
SRL-PETI-00001,2026-01-09,Tim Terpadu,confirmed,,
{S1},2026-02-30,Tim Terpadu,confirmed,,
{S2},2026-01-10,,legal,,
{S2},2026-01-10,Polsek,raided,,
SRL-PETI-000099,2026-01-10,Polsek,confirmed,,
"""


@pytest.fixture
def reg(tmp_path) -> Registry:
    r = Registry(tmp_path / "r.gpkg")
    r.upsert("2026-W01", week_polygons([(square(X, Y, 100), "2026-01-01"), (square(X + 2000, Y, 100), "2026-01-01")]),
             now=NOW)
    return r


def test_import_csv__bad_rows_reported_good_rows_kept(reg, tmp_path):
    path = tmp_path / "kunjungan.csv"
    path.write_text(CSV)
    rep = reg.import_verifications(path)
    assert rep.n_read == 7 and len(rep.rows) == 2 and rep.n_added == 2 and not rep.ok
    lines = {(e.line, e.column) for e in rep.errors}
    assert lines == {(4, "site_id"), (5, "date"), (6, "team"), (7, "outcome"), (8, "site_id")}
    assert "line 7: outcome='raided'" in rep.summary() and "expected one of confirmed" in rep.summary()
    v = reg.verifications()
    assert list(v.site_id) == [S1, S2] and v.photo.iloc[0] == "IMG_0012.jpg" and list(v.line) == [2, 3]


def test_import_xlsx__bad_rows_and_date_cells(reg, tmp_path):
    path = tmp_path / "kunjungan.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Site_ID", "Tanggal", "Tim", "Hasil", "Catatan", "Foto"])
    ws.append([S1, dt.datetime(2026, 1, 9), "Tim A", "confirmed", "lubang baru", "p1.jpg"])
    ws.append([S2, "kemarin", "Tim A", "confirmed", None, None])
    ws.append([None, None, None, None, None, None])  # blank line is skipped
    ws.append([S2, "2026-01-11", "Tim B", "ACTED_ON", None, None])
    wb.save(path)
    rep = reg.import_verifications(path)
    assert [(e.line, e.column) for e in rep.errors] == [(3, "date")]
    assert rep.n_added == 2
    v = reg.verifications()
    assert list(v.date) == ["2026-01-09", "2026-01-11"] and list(v.outcome) == ["confirmed", "acted_on"]
    assert v.note.iloc[0] == "lubang baru" and v.team.iloc[1] == "Tim B"


def test_import_geojson(reg, tmp_path):
    path = tmp_path / "v.geojson"
    feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [102.4, -2.4]},
              "properties": {"site_id": S1, "date": "2026-01-09", "team": "T", "outcome": "legal"}},
             {"type": "Feature", "geometry": None, "properties": {"site_id": S2, "date": "x", "team": "T",
                                                                   "outcome": "legal"}}]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    rep = reg.import_verifications(path)
    assert rep.n_added == 1 and [(e.line, e.column) for e in rep.errors] == [(2, "date")]
    site = reg.sites().set_index("site_id").loc[S1]
    assert site.verification == "legal" and site.legality == "dalam_izin"


def test_import__duplicates_are_idempotent_and_history_is_append_only(reg, tmp_path):
    path = tmp_path / "v.csv"
    path.write_text(CSV)
    reg.import_verifications(path)
    again = reg.import_verifications(path)
    assert again.n_added == 0 and again.n_duplicate == 2
    path.write_text(f"site_id,date,team,outcome\n{S1},2026-01-20,Tim Terpadu,confirmed\n")
    reg.import_verifications(path)
    v = reg.verifications()
    assert list(v.outcome) == ["false_positive", "confirmed", "confirmed"]
    assert reg.sites().set_index("site_id").loc[S1, "verification"] == "confirmed"
    reg.upsert("2026-W02", week_polygons([]), now=NOW)
    assert len(reg.verifications()) == 3  # weekly runs never touch verification history


def test_import__unreadable_files_raise(tmp_path):
    with pytest.raises(VerificationImportError, match="does not exist"):
        read_verifications(tmp_path / "nope.csv")
    bad = tmp_path / "v.txt"
    bad.write_text("x")
    with pytest.raises(VerificationImportError, match=r"\.csv, \.xlsx or \.geojson"):
        read_verifications(bad)
    cols = tmp_path / "v.csv"
    cols.write_text("site,when\nSRL-PETI-000001,2026-01-01\n")
    with pytest.raises(VerificationImportError, match="lacks the column"):
        read_verifications(cols)
    broken = tmp_path / "v.xlsx"
    broken.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(VerificationImportError, match="cannot read"):
        read_verifications(broken)


def test_false_positive__suppressed_until_it_grows_beyond_factor(reg, tmp_path):
    path = tmp_path / "v.csv"
    path.write_text(f"site_id,date,team,outcome\n{S1},2026-01-02,Tim,false_positive\n")
    reg.import_verifications(path)
    s = reg.sites().set_index("site_id")
    assert bool(s.loc[S1, "suppressed"]) and s.loc[S1, "priority"] == 0 and not s.loc[S2, "suppressed"]
    assert s.loc[S1, "priority_rank"] == 2
    # 1.44x the verified area (120 m side): still suppressed, even though the site "grows"
    reg.upsert("2026-W02", week_polygons([(square(X, Y, 120), "2026-01-08")]), now=NOW)
    s = reg.sites().set_index("site_id")
    assert bool(s.loc[S1, "suppressed"]) and s.loc[S1, "priority"] == 0
    assert bool(reg.observations(S1).suppressed.iloc[-1])
    # 1.69x (130 m side) > 1.5x: alerts again
    reg.upsert("2026-W03", week_polygons([(square(X, Y, 130), "2026-01-15")]), now=NOW)
    s = reg.sites().set_index("site_id")
    assert not s.loc[S1, "suppressed"] and s.loc[S1, "priority"] > 0
