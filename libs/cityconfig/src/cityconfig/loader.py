"""Loading and indexing a city's configuration folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cityconfig.model import (
    Category,
    CityConfig,
    District,
    Event,
    LeafEntry,
    Names,
    Subcategory,
    Unit,
    fold,
)

FILES = ("city.yaml", "units.yaml", "catalogue.yaml", "routing.yaml")
BOUNDARIES_ENV = "CITY_BOUNDARIES_FILE"


class ConfigError(ValueError):
    """The configuration folder is missing something or contradicts itself; the message says where."""


def _read(path: Path) -> Any:
    if not path.exists():
        raise ConfigError(f"{path}: file missing")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


@dataclass(frozen=True)
class CityIndex:
    """The configuration with the look-ups every service needs."""

    config: CityConfig
    directory: Path
    boundaries_file: Path | None
    units: dict[str, Unit]
    leaves: dict[str, LeafEntry]
    districts: dict[str, District]

    def unit(self, unit_id: str) -> Unit | None:
        return self.units.get(unit_id)

    def leaf(self, code: str) -> LeafEntry | None:
        return self.leaves.get(code)

    def district(self, name: str | None) -> District | None:
        """Canonical district for any spelling ('Praga Południe', 'praga-poludnie', …)."""
        if not name:
            return None
        return self.districts.get(fold(name))

    @property
    def triage_unit(self) -> str:
        return self.config.routing.triage_unit


def _leaves(catalogue: list[Category]) -> dict[str, LeafEntry]:
    out: dict[str, LeafEntry] = {}

    def add(code: str, cat: Category, sub: Subcategory | None, ev: Event | None, names: list[Names]) -> None:
        hours = (
            (ev.sla_hours if ev and ev.sla_hours else None)
            or (sub.sla_hours if sub else None)
            or cat.sla_hours
        )
        requires = ev.requires if ev and ev.requires is not None else None
        if requires is None and sub is not None and sub.requires is not None:
            requires = sub.requires
        if requires is None:
            requires = cat.requires
        out[code] = LeafEntry(
            code=code,
            category=cat.code,
            subcategory=sub.code if sub else None,
            event=ev.code if ev else None,
            name=names[-1],
            path_names=names,
            kinds=cat.kinds,
            sla=timedelta(hours=hours),
            requires=list(requires),
        )

    for cat in catalogue:
        add(cat.code, cat, None, None, [cat.name])
        for sub in cat.subcategories:
            add(sub.code, cat, sub, None, [cat.name, sub.name])
            for ev in sub.events:
                add(ev.code, cat, sub, ev, [cat.name, sub.name, ev.name])
    return out


def load_city(directory: Path | str, boundaries_file: Path | str | None = None) -> CityIndex:
    """Read and validate a configuration folder. The boundaries file comes from the argument,
    else the CITY_BOUNDARIES_FILE variable, else city.yaml's `boundaries_file` (relative to the folder)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"{directory}: city configuration folder not found")
    raw = {name.removesuffix(".yaml"): _read(directory / name) for name in FILES}
    data = {
        "city": raw["city"],
        "units": (raw["units"] or {}).get("units"),
        "catalogue": (raw["catalogue"] or {}).get("categories"),
        "routing": raw["routing"],
    }
    try:
        config = CityConfig.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{directory}: invalid configuration:\n  " + "\n  ".join(problems)) from None
    chosen = boundaries_file or os.environ.get(BOUNDARIES_ENV) or config.city.boundaries_file
    boundaries: Path | None = None
    if chosen:
        boundaries = Path(chosen)
        if not boundaries.is_absolute():
            boundaries = (directory / boundaries).resolve()
        if not boundaries.exists():
            raise ConfigError(f"boundaries file {boundaries} not found (set {BOUNDARIES_ENV} or city.yaml)")
    districts: dict[str, District] = {}
    for d in config.city.districts:
        for spelling in (d.name, *d.aliases):
            districts[fold(spelling)] = d
    return CityIndex(
        config=config,
        directory=directory,
        boundaries_file=boundaries,
        units={u.id: u for u in config.units},
        leaves=_leaves(config.catalogue),
        districts=districts,
    )
