"""Emergencies go to 112: realistic sentences both ways, in Polish, English and Ukrainian."""

from __future__ import annotations

import pytest

from intake.domain.emergency import detect_emergency

EMERGENCIES = [
    ("Pali się mieszkanie na trzecim piętrze, dym wydobywa się z okna", "fire"),
    ("Pozar smietnika przy bloku, ogien przechodzi na drzewa", "fire"),
    ("Na przystanku leży nieprzytomny mężczyzna", "unconscious"),
    ("czlowiek lezy nieprzytomny na chodniku przy Rondzie Dmowskiego", "unconscious"),
    ("Starszy pan zasłabł na ulicy i nie oddycha", "unconscious"),
    ("Samochód potrącił rowerzystę, mężczyzna krwawi z głowy", "injured"),
    ("Czuć gaz na klatce schodowej, sąsiedzi wychodzą", "gas"),
    ("czuc gaz w piwnicy bloku", "gas"),
    ("Ktoś topi się w Wiśle przy Moście Poniatowskiego", "drowning"),
    ("Na ulicy bójka, jeden z nich grozi nożem przechodniom", "violence"),
    ("There is a fire in the building next door", "fire"),
    ("A man collapsed at the tram stop and is not breathing", "unconscious"),
    ("Someone is drowning in the river near the bridge", "drowning"),
    ("I can smell gas in the stairwell of my block", "gas"),
    ("A woman was hit by a car and she is bleeding", "injured"),
    ("Two men fighting, one of them is stabbing the other", "violence"),
    ("Пожежа в під'їзді, горить квартира на другому поверсі", "fire"),
    ("Чоловік лежить без свідомості на зупинці", "unconscious"),
    ("Відчувається запах газу в під'їзді", "gas"),
    ("Людина тоне в річці біля мосту", "drowning"),
]

ORDINARY = [
    "Nie działa sygnalizacja świetlna na skrzyżowaniu Marszałkowskiej z Alejami Jerozolimskimi",
    "Oblodzony chodnik przy szkole, bardzo ślisko",
    "Martwy gołąb na chodniku przed sklepem",
    "Dziura w jezdni na ul. Puławskiej, samochody ją omijają",
    "Źle zaparkowany samochód blokuje przejście dla pieszych",
    "Przepełnione pojemniki na śmieci przy altanie",
    "Zepsuty hydrant przeciwpożarowy przy bloku",
    "Gazon w parku jest rozjeżdżony przez samochody",
    "Proszę o ustawienie ławek i siłowni plenerowej w parku",
    "Jak wyrobić dowód osobisty?",
    "Broken traffic light at the crossing of Marszałkowska",
    "Icy pavement near the tram stop, very slippery",
    "Dead pigeon on the pavement in front of the shop",
    "The fire hydrant on my street is leaking water",
    "Не працює світлофор на перехресті",
    "Слизький тротуар біля школи",
    "Мертвий голуб на тротуарі",
]


@pytest.mark.parametrize(("text", "rule"), EMERGENCIES)
def test_emergencies_are_recognised(text: str, rule: str) -> None:
    match = detect_emergency(text)
    assert match is not None, text
    assert match.rule == rule


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_cases_are_not_emergencies(text: str) -> None:
    assert detect_emergency(text) is None


def test_address_is_checked_too_and_none_is_ignored() -> None:
    assert detect_emergency("Proszę przyjechać", None, "tu pali się dom") is not None
    assert detect_emergency(None) is None
