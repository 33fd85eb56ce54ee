from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sarolangun_geo import config
from sarolangun_geo.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    threshold: float
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outer:
    name: str
    inner: Inner
    count: int = 3
    out: Path | None = None
    flag: bool = False
    extra: dict[str, float] = field(default_factory=dict)


def write(tmp_path, text):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_load_dataclass__typed_and_frozen(tmp_path):
    p = write(tmp_path, 'name = "x"\nout = "a/b"\n[inner]\nthreshold = 1\nnames = ["a", "b"]\n[extra]\nk = 2\n')
    cfg = config.load_dataclass(Outer, p)
    assert cfg.inner.threshold == 1.0 and isinstance(cfg.inner.threshold, float)
    assert cfg.inner.names == ("a", "b")
    assert cfg.out == Path("a/b") and cfg.count == 3
    assert cfg.extra["k"] == 2.0
    with pytest.raises(AttributeError):
        cfg.name = "y"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('name = "x"\n[inner]\nthreshhold = 1\n', "unknown key.*threshhold.*threshold"),
        ('name = "x"\n', "required key 'inner'"),
        ('name = "x"\ncount = "3"\n[inner]\nthreshold = 1\n', "count: expected an integer"),
        ('name = "x"\nflag = 1\n[inner]\nthreshold = 1\n', "flag: expected true or false"),
        ('name = "x\n', "not valid TOML"),
    ],
)
def test_load_dataclass__clear_errors(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        config.load_dataclass(Outer, write(tmp_path, text))


def test_load_dataclass__missing_file_names_path(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config.load_dataclass(Outer, tmp_path / "nope.toml")


def test_config_hash__stable_and_sensitive():
    a = Outer("x", Inner(1.0))
    assert config.config_hash(a) == config.config_hash(Outer("x", Inner(1.0)))
    assert config.config_hash(a) != config.config_hash(Outer("x", Inner(1.5)))
    assert len(config.config_hash(a)) == 16


@dataclass(frozen=True)
class Pair:
    window: tuple[int, float]


def test_fixed_length_tuple__types_follow_positions(tmp_path):
    cfg = config.load_dataclass(Pair, write(tmp_path, "window = [3, 2]\n"))
    assert cfg.window == (3, 2.0) and isinstance(cfg.window[1], float)
    with pytest.raises(ConfigError, match="expected 2 values"):
        config.load_dataclass(Pair, write(tmp_path, "window = [3]\n"))
    with pytest.raises(ConfigError, match=r"window\[0\]: expected an integer"):
        config.load_dataclass(Pair, write(tmp_path, "window = [3.5, 2]\n"))
