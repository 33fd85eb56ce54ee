"""All exceptions and warnings of sarolangun-geo.

Every error derives from :class:`SarolangunGeoError` and from the matching
built-in exception, so callers may catch either.  Messages name the object,
what was expected, and how to fix the problem.
"""

from __future__ import annotations

__all__ = [
    "AOIError",
    "BandError",
    "BaselineError",
    "BudgetExceededError",
    "ConfigError",
    "CorruptAssetError",
    "CredentialsError",
    "ExportError",
    "FewClearObservationsWarning",
    "GridMismatchError",
    "LayerSchemaError",
    "MissingAssetError",
    "NoItemsError",
    "PipelineError",
    "RegistryCorruptError",
    "RegistryError",
    "RegistryLockedError",
    "SarolangunGeoError",
    "SarolangunGeoWarning",
    "SchemaVersionError",
    "SourceError",
    "TileFailureWarning",
    "TokenExpiredError",
    "UnknownKecamatanError",
    "VerificationImportError",
]


class SarolangunGeoError(Exception):
    """Base class of every error raised by sarolangun-geo."""


class ConfigError(SarolangunGeoError, ValueError):
    """A configuration file or value is missing or invalid."""


class UnknownKecamatanError(SarolangunGeoError, KeyError):
    """A kecamatan name, slug or code did not match any of the 11 kecamatan."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class GridMismatchError(SarolangunGeoError, ValueError):
    """A raster is not on the canonical grid (CRS, resolution or alignment)."""


class AOIError(SarolangunGeoError, ValueError):
    """An area of interest is empty, invalid or outside the regency/coverage."""


class SourceError(SarolangunGeoError, RuntimeError):
    """An imagery source failed (network, service or data problem)."""


class NoItemsError(SourceError, LookupError):
    """A search returned no acquisitions for the period and AOI."""


class MissingAssetError(SourceError, KeyError):
    """An item lacks an asset (band) that the pipeline needs."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class CorruptAssetError(SourceError, IOError):
    """An asset file could not be read (corrupt or truncated GeoTIFF)."""


class BandError(SourceError, ValueError):
    """A band has the wrong name, dtype or scaling."""


class CredentialsError(SourceError, PermissionError):
    """Credentials for a service are missing or rejected."""


class TokenExpiredError(CredentialsError):
    """An access token or signed URL has expired and could not be renewed."""


class BudgetExceededError(SourceError):
    """A request would overrun the monthly processing-unit budget."""


class BaselineError(SarolangunGeoError, RuntimeError):
    """The baseline state is missing, incomplete or inconsistent."""


class RegistryError(SarolangunGeoError, RuntimeError):
    """The site registry cannot be read or written."""


class RegistryLockedError(RegistryError):
    """Another run holds the registry (or output) lock."""


class RegistryCorruptError(RegistryError):
    """The registry file is damaged; it is left untouched."""


class SchemaVersionError(RegistryError):
    """The registry was written by an incompatible schema version."""


class VerificationImportError(SarolangunGeoError, ValueError):
    """A field-verification file could not be imported at all."""


class ExportError(SarolangunGeoError, ValueError):
    """An export could not be produced (bad filter, format, or path)."""


class LayerSchemaError(ExportError):
    """A published layer does not match its schema or RFC 7946."""


class PipelineError(SarolangunGeoError, RuntimeError):
    """A pipeline step failed."""


class SarolangunGeoWarning(UserWarning):
    """Base class of warnings raised by sarolangun-geo."""


class FewClearObservationsWarning(SarolangunGeoWarning):
    """Too few clear observations to trust a composite or baseline."""


class TileFailureWarning(SarolangunGeoWarning):
    """One tile of a larger job failed; the others went on."""


class SitesInputError(SarolangunGeoError, ValueError):
    """An input of the sites layer (evidence Dataset, sites or roads table) breaks its contract."""


__all__.append("SitesInputError")
