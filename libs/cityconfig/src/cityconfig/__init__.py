"""A city as data."""

from cityconfig.loader import BOUNDARIES_ENV, CityIndex, ConfigError, load_city
from cityconfig.model import CityConfig, District, LeafEntry, Names, Rule, Unit, UnitKind, fold

__all__ = [
    "BOUNDARIES_ENV",
    "CityConfig",
    "CityIndex",
    "ConfigError",
    "District",
    "LeafEntry",
    "Names",
    "Rule",
    "Unit",
    "UnitKind",
    "fold",
    "load_city",
]
