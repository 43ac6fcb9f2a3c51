"""Is this a threat to life or health that belongs to 112? Pure text rules in Polish, English and Ukrainian,
tolerant of inflection (stems) and of missing diacritics (both sides are folded before matching)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


def fold(text: str) -> str:
    """Lower-case, strip diacritics (Polish and Cyrillic), unify apostrophes and spaces."""
    text = text.replace("ł", "l").replace("Ł", "L").replace("’", "'").replace("ʼ", "'")
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", stripped)


# Each rule: (id, pattern over folded text). \b is a word boundary; stems end without \b to allow endings.
_PERSON_PL = (
    r"(czlowiek|osob|mezczyzn|kobiet|dzieck|dziec|chlop|pan\b|pani\b|ktos|starsz|sasiad|rowerzyst|piesz)"
)
_PERSON_EN = (
    r"(man|woman|person|people|child|kid|boy|girl|someone|somebody|guy|cyclist|pedestrian|neighbou?r)"
)
_PERSON_UK = r"(людин|чоловік|чоловик|жінк|жинк|дитин|хтос|хтось|велосипедист|пішох|пишох)"

_RULES: list[tuple[str, str]] = [
    # fire
    ("fire", r"\b(pozar|pali sie|plonie|plona|ogien|ognia|ogniem|w plomieniach|dym (wydobywa|bucha|leci) z)"),
    (
        "fire",
        r"\b(on fire|is burning|are burning|building burning|house burning|flames|smoke (is )?(pouring|coming) out)",
    ),
    ("fire", r"\bfire\b(?! hydrant)(?!works)(?! alarm test)"),
    ("fire", r"(пожеж|горить|палає|палае|вогонь|вогню|полум)"),
    # unconscious, not breathing, heart attack, collapse
    ("unconscious", r"\b(nieprzytomn|nie oddycha|bez oddechu|zemdlal|zaslabl|zawal|atak serca|reanimac)"),
    (
        "unconscious",
        r"\b(unconscious|not breathing|stopped breathing|passed out|collapsed|heart attack|cpr\b)",
    ),
    (
        "unconscious",
        r"(без свідомості|без свидомости|не дихає|не дихае|знепритомн|серцевий напад|інфаркт|инфаркт)",
    ),
    # injured, bleeding, hit by a car
    (
        "injured",
        rf"\b(rann[ayi]\w* {_PERSON_PL}|{_PERSON_PL}\w* (jest |sa )?rann|krwawi|krwotok|potracon|potracil|"
        r"ciezko (rann|pobit)|polamal|zlamal (noge|reke|kregoslup))",
    ),
    (
        "injured",
        rf"\b(injured {_PERSON_EN}|{_PERSON_EN}\w* (is |are |was )?(injured|hurt|bleeding)|bleeding|"
        r"hit by a (car|bus|tram|truck)|run over|seriously hurt)",
    ),
    ("injured", r"(поранен|травмован|кровоточ|кров тече|збила машина|збив автомобіль|збило)"),
    # someone in the water
    (
        "drowning",
        rf"\b(tonie|topi sie|tonac|tonie w|{_PERSON_PL}\w* (jest )?w wodzie|wpadl\w* do (wody|wisly|rzeki|stawu)|"
        r"pod lodem|pod lod)",
    ),
    (
        "drowning",
        rf"\b(drowning|{_PERSON_EN}\w* (is |are )?in the (water|river)|fell (in|into) the (water|river)|"
        r"through the ice)",
    ),
    ("drowning", r"(тоне|потопа|у воді|у води|в воді|під лід|пид лид)"),
    # gas
    (
        "gas",
        r"\b(zapach gazu|czuc gaz|czuje gaz|smierdzi gazem|ulatnia sie gaz|ulatniajacy sie gaz|wyciek gazu|"
        r"wybuch gazu|gaz sie ulatnia)",
    ),
    ("gas", r"\b(smell of gas|smells of gas|gas smell|smell gas|gas leak|leaking gas|gas explosion)"),
    ("gas", r"(запах газу|пахне газом|витік газу|витик газу|витікає газ|вибух газу)"),
    # violent crime in progress
    (
        "violence",
        rf"\b(napad|napadl|bija {_PERSON_PL}|bije {_PERSON_PL}|pobil|pobicie|nozem|dzga|dzgnal|strzela|"
        r"strzelanin|rabun|gwalt|porwan|grozi (nozem|bronia)|z bronia)",
    ),
    (
        "violence",
        r"\b(stabb|stabbing|knife attack|shooting|shots fired|gunman|with a gun|being attacked|assault|"
        r"robbery in progress|being robbed|kidnapp|fight with knives|beating (a |someone|him|her))",
    ),
    ("violence", r"(напад|ножем|стрілянин|стрилянин|стріляють|стриляють|б'ють|бьют|пограбуван|викрали)"),
    # explicit threat to life
    (
        "threat_to_life",
        r"\b(zagrozenie zycia|zagrozone zycie|umiera|ratunku|samobojst|chce skoczyc|skoczyc z mostu)",
    ),
    ("threat_to_life", r"\b(life[- ]threatening|is dying|dying person|suicid|going to jump|help me now)"),
    ("threat_to_life", r"(загроза життю|помирає|помирае|самогубств|рятуйте)"),
]

RULE_IDS = tuple(dict.fromkeys(rule_id for rule_id, _ in _RULES))
_COMPILED = [(rule_id, re.compile(fold(pattern))) for rule_id, pattern in _RULES]


@dataclass(frozen=True)
class EmergencyMatch:
    """Why a text was taken for an emergency: the rule id (fire, gas, …) and the words that matched."""

    rule: str
    matched: str


def detect_emergency(*texts: str | None) -> EmergencyMatch | None:
    folded = fold(" \n ".join(t for t in texts if t))
    for rule_id, pattern in _COMPILED:
        found = pattern.search(folded)
        if found:
            return EmergencyMatch(rule=rule_id, matched=found.group(0).strip())
    return None
