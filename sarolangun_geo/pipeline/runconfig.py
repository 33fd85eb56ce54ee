"""Run configuration: what a weekly or backfill run reads and where it writes.

A run configuration is a TOML file in ``pipelines/`` (``demo.toml``,
``earth-search.toml``, ``sentinelhub.toml``, ``cdse.toml``) loaded into the
frozen :class:`RunConfig`.  Relative paths are resolved against the current
working directory (run from the repository root, as ``make`` does).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ..config import CONFIG_DIR, load_dataclass
from ..errors import ConfigError

__all__ = [
    "AOIConfig",
    "BaselineConfig",
    "DaskConfig",
    "LayersConfig",
    "PathsConfig",
    "RunConfig",
    "SourceConfig",
    "load_run_config",
]


@dataclass(frozen=True)
class SourceConfig:
    """Where the imagery comes from.

    ``kind`` is ``"stac"`` (``url`` = a STAC API URL, ``"earth-search"``,
    ``"planetary-computer"`` or a local ``catalog.json``), ``"local"`` (a folder
    of COGs per date) or ``"sentinelhub"`` (``endpoint`` = ``"sentinelhub"`` for the
    commercial service or ``"cdse"`` for the Copernicus Data Space; credentials
    from a ``SHConfig`` ``profile`` or the environment, never from this file).
    """

    kind: Literal["stac", "local", "sentinelhub"] = "stac"
    url: str = "earth-search"
    collection: str = "sentinel-2-l2a"
    max_cloud: float = 100.0
    endpoint: Literal["sentinelhub", "cdse"] = "sentinelhub"
    profile: str = ""
    cache_dir: str = ""
    monthly_pu_budget: float = 10_000.0


@dataclass(frozen=True)
class AOIConfig:
    """The area a run covers: the whole regency (all empty), kecamatan, a GeoJSON or a bbox."""

    kecamatan: tuple[str, ...] = ()
    geojson: str = ""
    bbox: tuple[float, ...] = ()


@dataclass(frozen=True)
class LayersConfig:
    """Optional user-supplied vector layers (empty string = not supplied)."""

    roads: str = ""
    permits: str = ""
    protected_forest: str = ""
    rivers: str = ""


@dataclass(frozen=True)
class PathsConfig:
    """Outputs and state."""

    out: str = "out"
    registry: str = "out/registry.gpkg"
    state: str = "out/state"
    thresholds: str = str(CONFIG_DIR / "detection.toml")
    sites_config: str = str(CONFIG_DIR / "sites.toml")


@dataclass(frozen=True)
class BaselineConfig:
    """The history a backfill folds into the baseline."""

    start: str = ""
    end: str = ""


@dataclass(frozen=True)
class DaskConfig:
    """Scheduler: ``threads``, ``sync``, ``local:N`` (LocalCluster of N workers) or ``tcp://host:8786``."""

    scheduler: str = "threads"
    memory_limit: str = "4GB"
    threads_per_worker: int = 1


@dataclass(frozen=True)
class RunConfig:
    """One run configuration (see ``pipelines/*.toml``)."""

    name: str
    source: SourceConfig = field(default_factory=SourceConfig)
    aoi: AOIConfig = field(default_factory=AOIConfig)
    layers: LayersConfig = field(default_factory=LayersConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    dask: DaskConfig = field(default_factory=DaskConfig)
    lang: Literal["id", "en"] = "id"

    def source_spec(self) -> tuple[str, tuple[tuple[str, Any], ...]]:
        """(spec, kwargs) for :func:`sarolangun_geo.sources.resolve_source` (hashable, picklable)."""
        s = self.source
        kw: dict[str, Any] = {"max_cloud_cover": s.max_cloud} if s.max_cloud < 100 else {}
        if s.kind == "sentinelhub":
            kw["budget_pu"] = s.monthly_pu_budget
            if s.profile:
                kw["profile"] = s.profile
            if s.cache_dir:
                kw["cache_dir"] = s.cache_dir
            return ("cdse" if s.endpoint == "cdse" else "sentinelhub"), tuple(sorted(kw.items()))
        return s.url, tuple(sorted(kw.items()))

    def with_overrides(self, *, kecamatan: tuple[str, ...] | None = None, scheduler: str | None = None,
                       lang: str | None = None, out: str | None = None) -> RunConfig:
        """A copy with command-line overrides applied (``None`` keeps the file's value)."""
        cfg = self
        if kecamatan:
            cfg = replace(cfg, aoi=replace(cfg.aoi, kecamatan=tuple(kecamatan), geojson="", bbox=()))
        if scheduler:
            cfg = replace(cfg, dask=replace(cfg.dask, scheduler=scheduler))
        if lang:
            if lang not in ("id", "en"):
                raise ConfigError(f"--lang {lang!r} is not supported; use 'id' (Bahasa Indonesia) or 'en'")
            cfg = replace(cfg, lang=lang)  # type: ignore[arg-type]
        if out:
            base = Path(out)
            cfg = replace(cfg, paths=replace(cfg.paths, out=str(base), registry=str(base / "registry.gpkg"),
                                             state=str(base / "state")))
        return cfg


def load_run_config(path: str | Path) -> RunConfig:
    """Load and check a run configuration file.

    Raises
    ------
    ConfigError
        For unknown keys, wrong types, or an AOI given two ways.
    """
    cfg = load_dataclass(RunConfig, path)
    given = sum(bool(x) for x in (cfg.aoi.kecamatan, cfg.aoi.geojson, cfg.aoi.bbox))
    if given > 1:
        raise ConfigError(f"{path}: [aoi] gives more than one of kecamatan, geojson, bbox; keep one")
    if cfg.aoi.bbox and len(cfg.aoi.bbox) != 4:
        raise ConfigError(f"{path}: [aoi] bbox needs 4 numbers (minlon, minlat, maxlon, maxlat)")
    return cfg
