"""The Warsaw configuration loads; a broken configuration says where it is broken."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cityconfig import ConfigError, load_city

WARSAW = Path(__file__).resolve().parents[3] / "deploy" / "config" / "warsaw"
SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"


def test_warsaw_loads_with_all_18_districts_and_their_offices() -> None:
    city = load_city(WARSAW)
    assert len(city.config.city.districts) == 18
    for district in city.config.city.districts:
        office = city.unit(district.office_unit)
        assert office is not None
        assert office.district == district.name
    assert city.triage_unit == "triage"


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("Praga Południe", "Praga-Południe"),
        ("praga-poludnie", "Praga-Południe"),
        ("PRAGA PÓŁNOC", "Praga-Północ"),
        ("Śródmieście", "Śródmieście"),
        ("srodmiescie", "Śródmieście"),
        ("Włochy", "Włochy"),
        ("wlochy", "Włochy"),
    ],
)
def test_district_spellings(spelling: str, canonical: str) -> None:
    district = load_city(WARSAW).district(spelling)
    assert district is not None
    assert district.name == canonical


def test_catalogue_leaves_inherit_sla_and_requirements() -> None:
    city = load_city(WARSAW)
    lights = city.leaf("drogi.sygnalizacja")
    assert lights is not None
    assert lights.sla.total_seconds() == 24 * 3600
    assert lights.requires == ["location"]
    assert lights.path_names[0].pl == "Proces interwencyjny"
    proposal = city.leaf("wnioski.ogolne")
    assert proposal is not None
    assert proposal.requires == []


def test_every_observed_2019_event_name_maps_to_a_catalogue_entry() -> None:
    import json

    taxonomy = json.loads((SHARED / "19115-taxonomy.json").read_text())
    observed = {e for events in taxonomy["api_2019"]["subcategory_events_observed"].values() for e in events}
    observed.discard("(null)")
    city = load_city(WARSAW)
    known = {
        code
        for cat in city.config.catalogue
        for sub in cat.subcategories
        for ev in sub.events
        for code in ev.external_codes
    }
    known |= {
        code for cat in city.config.catalogue for sub in cat.subcategories for code in sub.external_codes
    }
    assert observed - known == set()


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "city"
    shutil.copytree(WARSAW, target)
    return target


def test_unknown_unit_in_a_rule_is_named(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    routing = folder / "routing.yaml"
    routing.write_text(routing.read_text().replace("units: [zdm]}", "units: [no-such-unit]}", 1))
    with pytest.raises(ConfigError, match="no-such-unit"):
        load_city(folder)


def test_missing_file_and_bad_yaml_are_clear(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "units.yaml").unlink()
    with pytest.raises(ConfigError, match=r"units\.yaml: file missing"):
        load_city(folder)
    folder2 = _copy(tmp_path / "b")
    (folder2 / "city.yaml").write_text("name: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_city(folder2)


def test_missing_boundaries_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="boundaries file"):
        load_city(WARSAW, boundaries_file=tmp_path / "nope.geojson")
