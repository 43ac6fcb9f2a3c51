"""Where is it? Point-in-polygon against the city's district boundaries (shapely, STRtree index), or,
without boundaries, the channel's district and then the nearest district centre within a distance."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from shapely import STRtree
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from cityconfig import CityIndex, District
from contracts import DistrictSource, Location


@dataclass(frozen=True)
class Located:
    district: District | None
    source: DistrictSource
    outside_city: bool = False


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


class DistrictLocator:
    def __init__(self, city: CityIndex) -> None:
        self.city = city
        self._tree: STRtree | None = None
        self._geoms: list[BaseGeometry] = []
        self._districts: list[District] = []
        if city.boundaries_file is not None:
            self._load(city.boundaries_file)

    @property
    def mode(self) -> str:
        return "polygons" if self._tree is not None else "channel district, then nearest centre"

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        prop = self.city.config.city.district_name_property
        for feature in data.get("features", []):
            name = (feature.get("properties") or {}).get(prop)
            district = self.city.district(name)
            if district is None:
                raise ValueError(f"{path}: feature {name!r} is not a district of the configuration")
            self._geoms.append(shape(feature["geometry"]))
            self._districts.append(district)
        if not self._geoms:
            raise ValueError(f"{path}: no district features")
        self._tree = STRtree(self._geoms)

    def locate(self, location: Location | None) -> Located:
        if location is None:
            return Located(None, DistrictSource.NONE)
        if location.lat is not None and location.lon is not None:
            lat, lon = location.lat, location.lon
            if self._tree is not None:
                point = Point(lon, lat)
                for idx in self._tree.query(point, predicate="intersects"):
                    return Located(self._districts[int(idx)], DistrictSource.POLYGON)
                return Located(None, DistrictSource.NONE, outside_city=True)
            if not self.city.config.city.bounds.contains(lat, lon):
                return Located(None, DistrictSource.NONE, outside_city=True)
        channel = self.city.district(location.district)
        if channel is not None:
            return Located(channel, DistrictSource.CHANNEL)
        if location.lat is not None and location.lon is not None:
            nearest = min(
                self.city.config.city.districts,
                key=lambda d: haversine_km(location.lat or 0, location.lon or 0, *d.centre),
            )
            if (
                haversine_km(location.lat, location.lon, *nearest.centre)
                <= self.city.config.city.max_distance_from_centre_km
            ):
                return Located(nearest, DistrictSource.NEAREST_CENTRE)
            return Located(None, DistrictSource.NONE, outside_city=True)
        return Located(None, DistrictSource.NONE)
