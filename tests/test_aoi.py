from __future__ import annotations

import pytest

from sarolangun_geo import aoi
from sarolangun_geo.errors import SarolangunGeoError, UnknownKecamatanError

# Areas from data/boundaries/SOURCES.md (km², EPSG:32748)
SOURCES_AREAS = {
    "Batang Asai": 994.58, "Limun": 725.63, "Sarolangun": 284.56, "Pauh": 776.29,
    "Pelawan": 354.12, "Mandiangin": 815.44, "Air Hitam": 637.52, "Bathin VIII": 328.30,
    "Singkut": 190.94, "Cermin Nan Gedang": 406.87, "Mandiangin Timur": 426.91,
}


def test_load_kecamatan__eleven_with_areas_within_one_percent():
    kec = aoi.load_kecamatan()
    assert len(kec) == 11
    assert kec.crs.to_epsg() == 4326
    areas = dict(zip(kec["nama"], kec.to_crs(32748).area / 1e6, strict=True))
    assert set(areas) == set(SOURCES_AREAS)
    for name, expected in SOURCES_AREAS.items():
        assert areas[name] == pytest.approx(expected, rel=0.01), name


def test_load_regency__area_and_desa_count():
    reg = aoi.load_regency()
    assert len(reg) == 1
    assert reg.to_crs(32748).area.iloc[0] / 1e6 == pytest.approx(5941.15, rel=0.01)
    desa = aoi.load_desa()
    assert len(desa) == 158
    assert set(desa["jenis"]) == {"desa", "kelurahan"}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("Batang Asai", "Batang Asai"),
        ("batang asai", "Batang Asai"),
        ("BATANG-ASAI", "Batang Asai"),
        ("batang-asai", "Batang Asai"),
        ("15.03.01", "Batang Asai"),
        ("1503010", "Batang Asai"),
        (1503010, "Batang Asai"),
        ("Cermin Nan Gadang", "Cermin Nan Gedang"),
        ("cermin nan gedang", "Cermin Nan Gedang"),
        ("Batin VIII", "Bathin VIII"),
        ("Bathin 8", "Bathin VIII"),
        ("Kecamatan Limun", "Limun"),
        ("15.03.11", "Mandiangin Timur"),
        ("mandiangin-timur", "Mandiangin Timur"),
        ("1503040", "Sarolangun"),
    ],
)
def test_find_kecamatan__tolerant_lookup(key, expected):
    assert aoi.find_kecamatan(key)["nama"] == expected


def test_find_kecamatan__mandiangin_is_not_mandiangin_timur():
    assert aoi.find_kecamatan("Mandiangin")["kode_kemendagri"] == "15.03.06"


def test_find_kecamatan__unknown_lists_valid_names():
    with pytest.raises(UnknownKecamatanError) as exc:
        aoi.find_kecamatan("Merangin")
    msg = str(exc.value)
    assert "Merangin" in msg
    for name in SOURCES_AREAS:
        assert name in msg
    assert "Mandiangin Timur (mandiangin-timur, 15.03.11)" in msg  # no BPS code, no "nan"
    assert isinstance(exc.value, SarolangunGeoError) and isinstance(exc.value, KeyError)


def test_slugify():
    assert aoi.slugify("Cermin Nan Gedang") == "cermin-nan-gedang"
    assert aoi.slugify("Bathin VIII") == "bathin-viii"
    assert sorted(aoi.load_kecamatan()["slug"]) == sorted(aoi.slugify(n) for n in SOURCES_AREAS)
