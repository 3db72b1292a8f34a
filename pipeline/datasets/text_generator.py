"""The embedded text data: sentiment sentences, entity-tagged sentences and reading-comprehension
paragraphs, drawn from templates and gazetteers, in the format of `pipeline.datasets.text_examples`.

Three kinds of example (`TextMix` sets their shares):

  sentiment  a review sentence whose label follows its composition, never one word: negation
             ("the plot was not bad"), contrast, where the clause after "but" or the main clause
             after "although" decides ("the acting was good but the ending was dull"), and
             subverted or confirmed expectations ("I expected to hate it , yet the film was
             charming"; "I expected the film to be dull , but it was not"). Every adjective,
             "not", "but", "hate" and "love" occur under both labels.
  entities   a sentence about people, companies, places, nationalities and events, one IOB2 tag
             per word; names of one to three words ("Rio de Janeiro", "Venice Film Festival").
  qa         a paragraph of 3 to 5 sentences and a question answered by an exact span of it,
             templated from the answering sentence ("Who founded Helios Energy ?", "Where did
             Maria Chen move ?", "When did ... ?"). The paragraph holds a distractor of the
             same kind (another person founding another company in another year) and other
             facts, often about the same person ("... was born in Lima", next to "... moved to
             Oslo"), so matching the answer's type is not enough.

A share of the examples (`TextMix.two_tasks`) carries two tasks' labels: a sentiment sentence
quoted by a named critic ("Maria Chen of Helios Energy wrote : ...") with its entity tags, or a
paragraph with its question and its entity tags. The others are labelled for one task; their
other labels are missing (-1, an empty tag list), as a model's masked losses expect.

Held-out entries. Some first and last names, companies, places, nationalities and events
(`HELDOUT`), and some sentence, sentiment and question templates (those with `heldout=True`), are
never used by a training example: the words of the held-out entries occur nowhere else in the
data, and the held-out templates recombine words and constructions seen elsewhere (a negation
inside a contrast, a new way of asking for a year). A share of the examples (`TextMix.heldout`)
uses at least one held-out entry or template; each of them gets a `split_key` that ExampleGen
puts in the eval split (`text_examples.eval_split_key`, when the pipeline splits on `split_key`),
so eval measures the model on names and phrasings it never saw next to the usual ones. The other
examples' keys are unique per example and split 4:1 at random.

Deterministic for a seed; span k draws from its own generator (seed, k), so it is the same
whatever other spans were written. Files: ``<out>/span-<N>/part-*.tfrecord.gz``, each span
written to a temporary folder and renamed into place.
"""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Callable
from pathlib import Path

from pipeline.data import layout
from pipeline.datasets import text_examples as tx
from pipeline.datasets.text_examples import ENTITIES_TASK, QA_TASK, SENTIMENT_TASK, TextExample

# --- Gazetteers: (seen, held out) -------------------------------------------------------------

FIRST_NAMES = ("James", "Maria", "Wei", "Aisha", "Carlos", "Elena", "Kenji", "Fatima", "Lucas",
               "Sofia", "Omar", "Hannah", "Ivan", "Priya", "Mateo", "Chloe", "Samuel", "Yuki",
               "Daniel", "Amara", "Noah", "Leila", "Pedro", "Ingrid", "Tomas", "Nadia",
               "Victor", "Grace", "Rahul", "Olga", "Hugo", "Mei", "Felix", "Zara", "Andre",
               "Lena", "Kofi", "Rosa", "Emil", "Anya")
LAST_NAMES = ("Smith", "Garcia", "Chen", "Okafor", "Novak", "Tanaka", "Haddad", "Silva",
              "Kowalski", "Nguyen", "Johnson", "Petrov", "Rossi", "Mensah", "Larsen", "Kim",
              "Fischer", "Alvarez", "Sato", "Dubois", "Walker", "Moreau", "Patel", "Costa",
              "Berg", "Ibrahim", "Murphy", "Schmidt", "Lopez", "Andersen")
COMPANIES = ("Northwind Traders", "Globex Corporation", "Initech", "Blue Harbor Bank",
             "Vertex Labs", "Red Maple Foods", "Apex Motors", "Silverline Airways",
             "Quantum Dynamics", "Helios Energy", "Orbit Media", "Granite Insurance",
             "Nimbus Software", "Evergreen Health", "Falcon Logistics", "Sunrise Textiles",
             "Ironwood Capital", "Crystal Pharma", "Summit Telecom", "Atlas Shipping",
             "Pioneer Steel", "Lighthouse Books", "Bright Path Education", "Cobalt Mining")
# Cities and their countries (a sentence naming both pairs them), seen and held out.
CITY_COUNTRIES = {
    "Lisbon": "Portugal", "Nairobi": "Kenya", "Toronto": "Canada", "Osaka": "Japan",
    "Lima": "Peru", "Oslo": "Norway", "Cairo": "Egypt", "Santiago": "Chile",
    "Melbourne": "Australia", "Hamburg": "Germany", "Seoul": "South Korea", "Bogota": "Colombia",
    "Dublin": "Ireland", "Mumbai": "India", "Krakow": "Poland", "Quito": "Ecuador",
    "Accra": "Ghana", "Vancouver": "Canada", "Madrid": "Spain", "Guadalajara": "Mexico",
    "Buenos Aires": "Argentina", "Cape Town": "South Africa", "Sao Paulo": "Brazil",
    "Rio de Janeiro": "Brazil", "New Delhi": "India", "San Jose": "Costa Rica",
    "Mexico City": "Mexico", "Auckland": "New Zealand",
}
HELDOUT_CITY_COUNTRIES = {
    "Montevideo": "Uruguay", "Reykjavik": "Iceland", "Windhoek": "Namibia",
    "Kuala Lumpur": "Malaysia", "Addis Ababa": "Ethiopia", "Ulaanbaatar": "Mongolia",
    "Colombo": "Sri Lanka",
}
COUNTRY_OF = {**CITY_COUNTRIES, **HELDOUT_CITY_COUNTRIES}
CITIES = tuple(CITY_COUNTRIES)
COUNTRIES = ("Kenya", "Canada", "Japan", "Peru", "Norway", "Egypt", "Germany", "Brazil",
             "Ireland", "India", "Poland", "Ghana", "Spain", "Mexico", "New Zealand",
             "South Korea", "Costa Rica", "Portugal", "Chile", "Australia", "Colombia",
             "Ecuador", "Argentina", "South Africa")
NATIONALITIES = ("Brazilian", "Canadian", "Japanese", "Kenyan", "German", "Irish", "Indian",
                 "Polish", "Mexican", "Spanish", "Egyptian", "Norwegian", "South African",
                 "Peruvian", "Ghanaian")
EVENTS = ("World Cup", "Olympic Games", "Tour de France", "Champions League",
          "Venice Film Festival", "Nobel Prize", "Davis Cup", "Super Bowl", "Grammy Awards",
          "Berlin Marathon", "Monaco Grand Prix", "Chelsea Flower Show")
HELDOUT = {
    "first": ("Soren", "Imani", "Tariq", "Freya", "Dmitri", "Ximena", "Kwame", "Astrid", "Ravi",
              "Beatriz"),
    "last": ("Varga", "Oyelaran", "Lindqvist", "Castellanos", "Takahashi", "Abernathy",
             "Kovacs", "Delacroix"),
    "org": ("Tidewater Robotics", "Kestrel Aerospace", "Juniper Freight", "Obsidian Security",
            "Marigold Hotels", "Zenith Quarry"),
    "city": tuple(HELDOUT_CITY_COUNTRIES),
    "country": tuple(dict.fromkeys(HELDOUT_CITY_COUNTRIES.values())),
    "nat": ("Icelandic", "Namibian", "Mongolian", "Uruguayan"),
    "event": ("Eurovision Song Contest", "Kilimanjaro Regatta", "Hanseatic Expo"),
}
SEEN = {"first": FIRST_NAMES, "last": LAST_NAMES, "org": COMPANIES, "city": CITIES,
        "country": COUNTRIES, "nat": NATIONALITIES, "event": EVENTS}
# A slot's name without its digits -> (gazetteer, entity type); other slots are plain words.
SLOT_TYPES = {"PER": ("person", "PER"), "ORG": ("org", "ORG"), "CITY": ("city", "LOC"),
              "COUNTRY": ("country", "LOC"), "NAT": ("nat", "MISC"), "EVENT": ("event", "MISC")}
ROLES = ("chief executive", "head of research", "finance director", "lead designer",
         "general counsel")
YEARS = tuple(range(1950, 2024))

# --- Sentiment lexicon and templates ------------------------------------------------------------

POSITIVE = ("good", "great", "wonderful", "excellent", "delightful", "charming", "brilliant",
            "enjoyable", "moving", "clever", "superb", "fun")
NEGATIVE = ("bad", "terrible", "awful", "boring", "dull", "tedious", "clumsy", "weak", "bland",
            "disappointing", "painful", "messy")
SUBJECTS = ("the film", "the movie", "the plot", "the acting", "the script", "the ending",
            "the soundtrack", "the cast", "the dialogue", "the pacing", "the story",
            "the camera work")
INTENSIFIERS = ("", "", "very", "really", "quite", "truly")
# Expectation verbs, by polarity (0 negative, 1 positive).
EXPECT_VERBS = ("hate", "love")


@dataclasses.dataclass(frozen=True)
class SentimentTemplate:
    """A review sentence. `A1` has polarity p (drawn 0/1); `A2` has p (`second="same"`) or 1 - p
    (`"opposite"`); `V1` (hate/love) has p or 1 - p (`verb`); `label(p)` is the sentence's label,
    which the composition decides."""

    name: str
    pattern: str
    label: Callable[[int], int]
    second: str | None = None
    verb: str | None = None
    heldout: bool = False


def _same(p: int) -> int:
    return p


def _flip(p: int) -> int:
    return 1 - p


SENTIMENT_TEMPLATES = (
    SentimentTemplate("plain", "{S1} {B1} {I1} {A1} .", _same),
    SentimentTemplate("negated", "{S1} {B1} not {I1} {A1} .", _flip),
    SentimentTemplate("never", "{S1} {B1} never {A1} .", _flip),
    SentimentTemplate("anything_but", "{S1} {B1} anything but {A1} .", _flip),
    # Contrast: the clause after "but", the main clause after "although", decides.
    SentimentTemplate("but", "{S1} {B1} {A1} but {S2} {B1} {I2} {A2} .", _flip, second="opposite"),
    SentimentTemplate("although", "although {S1} {B1} {I1} {A1} , {S2} {B1} {A2} .", _flip,
                      second="opposite"),
    # Expectations: "yet" subverts the expectation, "and" confirms it; the verdict decides.
    SentimentTemplate("expected_yet", "I expected to {V1} it , yet {S1} {B1} {I1} {A1} .", _same,
                      verb="opposite"),
    SentimentTemplate("expected_and", "I expected to {V1} it , and {S1} {B1} {I1} {A1} .", _same,
                      verb="same"),
    SentimentTemplate("expected_to_be_and", "I expected {S1} to be {A1} , and it was .", _same),
    SentimentTemplate("expected_to_be_but", "I expected {S1} to be {A1} , but it was not .",
                      _flip),
    # Held out: a negation inside a contrast, a negated verdict after an expectation.
    SentimentTemplate("but_negated", "{S1} {B1} {A1} but {S2} {B1} not {I2} {A2} .", _flip,
                      second="same", heldout=True),
    SentimentTemplate("although_negated", "although {S1} {B1} not {A1} , {S2} {B1} {I2} {A2} .",
                      _same, second="same", heldout=True),
    SentimentTemplate("expected_yet_negated", "I expected to {V1} it , yet {S1} {B1} not {A1} .",
                      _flip, verb="same", heldout=True),
)
# Who said it: a sentiment sentence with entities (its tags are labelled in two-task examples).
FRAMES = ("{PER} wrote :", "{PER} of {ORG} wrote :", "a critic from {CITY} wrote :",
          "at the {EVENT} , {PER} wrote :", "{PER} , a {NAT} critic , wrote :")

# --- Entity sentences -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Template:
    name: str
    pattern: str
    heldout: bool = False


ENTITY_TEMPLATES = (
    Template("works_for", "{PER} works for {ORG} in {CITY} ."),
    Template("office", "{ORG} opened a new office in {CITY} ."),
    Template("met_at", "{PER} met {PER2} at the {EVENT} ."),
    Template("deal", "{ORG} signed a deal with {ORG2} on Monday ."),
    Template("held_in", "the {EVENT} was held in {CITY} , {COUNTRY} ."),
    Template("engineer", "{PER} , a {NAT} engineer , joined {ORG} in {YEAR} ."),
    Template("flew", "{PER} flew from {CITY} to {CITY2} for the {EVENT} ."),
    Template("hire_more", "{PER} said {ORG} will hire more staff in {COUNTRY} ."),
    Template("shares", "shares of {ORG} rose after the {EVENT} ."),
    Template("court", "a {NAT} court fined {ORG} last week ."),
    Template("visited", "{PER} of {ORG} visited {CITY} with {PER2} ."),
    Template("fans", "fans in {CITY} watched the {EVENT} on television ."),
    Template("hired_after", "{ORG} hired {PER} after the {EVENT} .", heldout=True),
    Template("met_in", "{PER} met {PER2} in {CITY} last week .", heldout=True),
    Template("flew_to", "a {NAT} engineer flew to {COUNTRY} .", heldout=True),
)

# --- Paragraph facts and their questions --------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Question:
    pattern: str
    answer: str  # the slot of the fact that answers it
    heldout: bool = False


@dataclasses.dataclass(frozen=True)
class Fact:
    name: str
    pattern: str
    questions: tuple[Question, ...] = ()


FACTS = (
    Fact("founded", "{PER} founded {ORG} in {YEAR} .", (
        Question("Who founded {ORG} ?", "PER"),
        Question("When did {PER} found {ORG} ?", "YEAR"),
        Question("Which company did {PER} found ?", "ORG"),
        Question("In which year did {PER} found {ORG} ?", "YEAR", heldout=True))),
    Fact("moved", "{PER} moved to {CITY} in {YEAR} .", (
        Question("Where did {PER} move ?", "CITY"),
        Question("When did {PER} move to {CITY} ?", "YEAR"),
        Question("Who moved to {CITY} ?", "PER"),
        Question("Which city did {PER} move to ?", "CITY", heldout=True))),
    Fact("born", "{PER} was born in {CITY} , {COUNTRY} .", (
        Question("Where was {PER} born ?", "CITY"),
        Question("In which city was {PER} born ?", "CITY"),
        Question("In which country was {PER} born ?", "COUNTRY"),
        Question("Who was born in {CITY} ?", "PER"))),
    Fact("hired", "{ORG} hired {PER} as its new {ROLE} in {YEAR} .", (
        Question("Who did {ORG} hire as its new {ROLE} ?", "PER"),
        Question("Which company hired {PER} ?", "ORG"),
        Question("What did {ORG} hire {PER} as ?", "ROLE"),
        Question("When did {ORG} hire {PER} ?", "YEAR", heldout=True))),
    Fact("won", "{PER} won the {EVENT} in {YEAR} .", (
        Question("Who won the {EVENT} in {YEAR} ?", "PER"),
        Question("When did {PER} win the {EVENT} ?", "YEAR"),
        Question("What did {PER} win in {YEAR} ?", "EVENT"),
        Question("Which year did {PER} win the {EVENT} ?", "YEAR", heldout=True))),
    Fact("factory", "{ORG} opened a factory in {CITY} in {YEAR} .", (
        Question("Where did {ORG} open a factory ?", "CITY"),
        Question("Which company opened a factory in {CITY} ?", "ORG"),
        Question("When did {ORG} open a factory in {CITY} ?", "YEAR"))),
)
# Sentences that answer no question; they reuse the paragraph's people and add places.
FILLERS = (
    Fact("difficult", "{PER} described that year as difficult ."),
    Fact("harbour", "{CITY} is known for its old harbour ."),
    Fact("surprised", "the decision surprised many people in {COUNTRY} ."),
    Fact("declined", "{ORG} declined to comment ."),
    Fact("studied", "{PER} later studied in {CITY} ."),
)


@dataclasses.dataclass(frozen=True)
class TextMix:
    """The shares of the embedded text data.

    `sentiment`, `entities`, `qa`: relative shares of the example kinds. `two_tasks`: the share
    of all examples labelled for two tasks (sentiment + entities or qa + entities, in the ratio
    of `sentiment` to `qa`). `heldout`: the share that uses held-out entries or templates (all
    of them in the eval split). `framed`: the share of single-task sentiment sentences quoted by
    a named critic (entities present, not labelled).
    """

    sentiment: float = 0.4
    entities: float = 0.3
    qa: float = 0.3
    two_tasks: float = 0.25
    heldout: float = 0.1
    framed: float = 0.2

    def __post_init__(self):
        for name, value in dataclasses.asdict(self).items():
            if not 0 <= value:
                raise ValueError(f"TextMix.{name} must be >= 0, got {value}")
        for name in ("two_tasks", "heldout", "framed"):
            if getattr(self, name) > 1:
                raise ValueError(f"TextMix.{name} is a share (0..1), got {getattr(self, name)}")
        if self.sentiment + self.entities + self.qa <= 0:
            raise ValueError("TextMix: the shares of sentiment, entities and qa are all 0")
        if self.two_tasks > 0 and self.sentiment + self.qa <= 0:
            raise ValueError("TextMix.two_tasks needs sentiment or qa examples")


@dataclasses.dataclass(frozen=True)
class Info:
    """What the generator knows about an example and a model never sees."""

    kind: str                   # SENTIMENT_TASK, ENTITIES_TASK or QA_TASK
    template: str               # the template's (or question's answering fact's) name
    heldout: bool               # uses a held-out entry or template
    heldout_template: bool
    entities: tuple[tuple[str, str], ...]  # (type, words) of every entity in the text
    question: str = ""          # the question's pattern (QA)


# --- Drawing ----------------------------------------------------------------------------------

class _Draw:
    """Draws slot values for one example; in held-out mode, entries come from the held-out lists
    half of the time (`force` makes the next one held out), and every use is recorded."""

    def __init__(self, rng: random.Random, heldout: bool):
        self.rng, self.heldout = rng, heldout
        self.force = False
        self.heldout_template = False
        self.used_heldout = False
        self.taken: dict[str, set] = {}

    def entry(self, gazetteer: str, allowed: Callable[[str], bool] = bool) -> str:
        use_heldout = self.heldout and (self.force or self.rng.random() < 0.5)
        self.force = False
        taken = self.taken.setdefault(gazetteer, set())
        pool = [v for v in (HELDOUT if use_heldout else SEEN)[gazetteer]
                if v not in taken and allowed(v)]
        if not pool:  # held-out entries used up in this example: a seen one
            use_heldout = False
            pool = [v for v in SEEN[gazetteer] if v not in taken and allowed(v)]
        value = self.rng.choice(pool)
        taken.add(value)
        self.used_heldout |= use_heldout
        return value

    def city_and_country(self) -> tuple[str, str]:
        """A city and its country, a country no other city of the example is in."""
        countries = self.taken.setdefault("country", set())
        city = self.entry("city", lambda c: COUNTRY_OF[c] not in countries)
        countries.add(COUNTRY_OF[city])
        return city, COUNTRY_OF[city]

    def value(self, slot: str, full_name: bool = True) -> str:
        base = slot.rstrip("0123456789")
        if base == "PER":
            if not full_name:
                return self.entry("last")
            return f"{self.entry('first')} {self.entry('last')}"
        if base in SLOT_TYPES:
            return self.entry(SLOT_TYPES[base][0])
        if base == "YEAR":
            taken = self.taken.setdefault("year", set())
            year = self.rng.choice([y for y in YEARS if y not in taken])
            taken.add(year)
            return str(year)
        if base == "ROLE":
            return self.rng.choice(ROLES)
        raise KeyError(f"no values for slot {slot}")


def _slots(pattern: str) -> list[str]:
    return [t[1:-1] for t in pattern.split() if t.startswith("{") and t.endswith("}")]


def _render(pattern: str, values: dict[str, str]):
    """(words, tags, spans): `spans[slot]` is the slot's word range [start, end)."""
    words, tags, spans = [], [], {}
    for token in pattern.split():
        if not (token.startswith("{") and token.endswith("}")):
            words.append(token)
            tags.append("O")
            continue
        slot = token[1:-1]
        parts = values[slot].split()
        entity_type = SLOT_TYPES.get(slot.rstrip("0123456789"), (None, None))[1]
        spans[slot] = (len(words), len(words) + len(parts))
        for i, part in enumerate(parts):
            words.append(part)
            tags.append("O" if entity_type is None else f"{'B' if i == 0 else 'I'}-{entity_type}")
    for i in range(len(words) - 1):  # "a Irish critic" -> "an Irish critic"
        if words[i] == "a" and words[i + 1][:1] in "AEIOaeio":
            words[i] = "an"
    if words and tags[0] == "O" and words[0][:1].islower():
        words[0] = words[0][0].upper() + words[0][1:]
    return words, tags, spans


def _entities(words: list[str], tags: list[str]) -> tuple[tuple[str, str], ...]:
    out, current = [], None
    for word, tag in zip(words, tags):
        if tag.startswith("B-"):
            current = [tag[2:], [word]]
            out.append(current)
        elif tag.startswith("I-"):
            current[1].append(word)
        else:
            current = None
    return tuple((t, " ".join(w)) for t, w in out)


def _fill(pattern: str, draw: _Draw, values: dict[str, str] | None = None,
          first: str | None = None, full_name: bool = True) -> dict[str, str]:
    """Values for the slots of `pattern` not in `values`, `first` drawn first. "{CITY} ,
    {COUNTRY}" names a city and its own country."""
    values = dict(values or {})
    tokens = pattern.split()
    pairs = {}  # slot -> (city slot, country slot)
    for i in range(2, len(tokens)):
        if tokens[i].startswith("{COUNTRY") and tokens[i - 1] == "," \
                and tokens[i - 2].startswith("{CITY"):
            pair = (tokens[i - 2][1:-1], tokens[i][1:-1])
            pairs[pair[0]] = pairs[pair[1]] = pair
    order = _slots(pattern)
    if first in order:
        order.remove(first)
        order.insert(0, first)
    for slot in order:
        if slot in values:
            continue
        if slot in pairs:
            city_slot, country_slot = pairs[slot]
            values[city_slot], values[country_slot] = draw.city_and_country()
        else:
            values[slot] = draw.value(slot, full_name)
    return values


def _sentiment(rng: random.Random, draw: _Draw, frame: bool):
    """(words, tags, label, template name)."""
    pool = [t for t in SENTIMENT_TEMPLATES if t.heldout == draw.heldout_template]
    template = rng.choice(pool)
    p = rng.randrange(2)
    s1, s2 = rng.sample(SUBJECTS, 2)
    values = {"S1": s1, "S2": s2, "B1": rng.choice(("is", "was")),
              "I1": rng.choice(INTENSIFIERS), "I2": rng.choice(INTENSIFIERS),
              "A1": rng.choice((NEGATIVE, POSITIVE)[p])}
    if template.second:
        q = p if template.second == "same" else 1 - p
        values["A2"] = rng.choice((NEGATIVE, POSITIVE)[q])
    if template.verb:
        values["V1"] = EXPECT_VERBS[p if template.verb == "same" else 1 - p]
    pattern = template.pattern
    if frame:
        frame_pattern = rng.choice(FRAMES)
        values = _fill(frame_pattern, draw, values)
        pattern = f"{frame_pattern} {pattern}"
    words, tags, _ = _render(pattern, values)
    return words, tags, template.label(p), template.name


def _entity_sentence(rng: random.Random, draw: _Draw):
    pool = [t for t in ENTITY_TEMPLATES if t.heldout == draw.heldout_template]
    template = rng.choice(pool)
    values = _fill(template.pattern, draw, full_name=rng.random() >= 0.15)
    words, tags, _ = _render(template.pattern, values)
    return words, tags, template.name


def _paragraph(rng: random.Random, draw: _Draw):
    """(words, tags, question words, answer word span, fact name, question pattern)."""
    if draw.heldout_template:
        choices = [(f, q) for f in FACTS for q in f.questions if q.heldout]
    else:
        choices = [(f, q) for f in FACTS for q in f.questions if not q.heldout]
        if draw.heldout:  # a held-out entry as the answer: a question whose answer is an entity
            choices = [(f, q) for f, q in choices if q.answer.rstrip("0123456789") in SLOT_TYPES]
            draw.force = True
    fact, question = rng.choice(choices)
    answer_values = _fill(fact.pattern, draw, first=question.answer)
    distractor_values = _fill(fact.pattern, draw)
    people = [v for k, v in answer_values.items() if k.startswith("PER")]
    sentences = [("answer", fact.pattern, answer_values), ("distractor", fact.pattern,
                                                           distractor_values)]
    others = [f for f in FACTS if f.name != fact.name] + list(FILLERS)
    for other in rng.sample(others, rng.randint(1, 3)):
        given = {}
        if "PER" in _slots(other.pattern) and people and rng.random() < 0.6:
            given["PER"] = people[0]  # the same person, another fact: a hard distractor
        sentences.append(("other", other.pattern, _fill(other.pattern, draw, given)))
    rng.shuffle(sentences)
    words, tags, answer_span = [], [], None
    for role, pattern, values in sentences:
        w, t, spans = _render(pattern, values)
        if role == "answer":
            start, end = spans[question.answer]
            answer_span = (len(words) + start, len(words) + end)
        words += w
        tags += t
    question_words, _, _ = _render(question.pattern, answer_values)
    return words, tags, question_words, answer_span, fact.name, question.pattern


def _example(rng: random.Random, mix: TextMix, key: str) -> tuple[TextExample, Info]:
    single = (mix.sentiment, mix.entities, mix.qa)
    heldout = rng.random() < mix.heldout
    if rng.random() < mix.two_tasks:
        kind = rng.choices((SENTIMENT_TASK, QA_TASK), weights=(mix.sentiment, mix.qa))[0]
        tagged = True
    else:
        kind = rng.choices((SENTIMENT_TASK, ENTITIES_TASK, QA_TASK), weights=single)[0]
        tagged = kind == ENTITIES_TASK
    framed = kind == SENTIMENT_TASK and (tagged or rng.random() < mix.framed)
    draw = _Draw(rng, heldout)
    # A held-out example uses a held-out template or (when it names entities) held-out entries.
    draw.heldout_template = heldout and (kind == SENTIMENT_TASK and not framed
                                         or rng.random() < 0.5)
    if heldout and not draw.heldout_template and kind != QA_TASK:
        draw.force = True
    question, answer, sentiment, question_pattern = "", None, tx.MISSING, ""
    if kind == SENTIMENT_TASK:
        words, tags, sentiment, name = _sentiment(rng, draw, framed)
    elif kind == ENTITIES_TASK:
        words, tags, name = _entity_sentence(rng, draw)
    else:
        words, tags, question_words, answer, name, question_pattern = _paragraph(rng, draw)
        question = " ".join(question_words)
    used_heldout = draw.used_heldout or draw.heldout_template
    assert used_heldout == heldout, "a held-out example uses no held-out entry or template"
    text = " ".join(words)
    start = end = tx.MISSING
    answer_text = ""
    if answer is not None:
        offsets = tx.word_offsets(words)
        start = offsets[answer[0]]
        end = offsets[answer[1] - 1] + len(words[answer[1] - 1])
        answer_text = text[start:end]
    example = TextExample(
        text=text, question=question, sentiment=sentiment,
        entity_tags=tuple(tags) if tagged else (), answer_start=start, answer_end=end,
        answer_text=answer_text,
        split_key=tx.eval_split_key(f"heldout-{key}") if heldout else key)
    info = Info(kind=kind, template=name, heldout=heldout,
                heldout_template=draw.heldout_template, entities=_entities(words, tags),
                question=question_pattern)
    return example, info


def generate_examples(num_examples: int, seed: int = 42, span: int = 1,
                      mix: TextMix | None = None) -> list[tuple[TextExample, Info]]:
    """Span `span`'s examples with what the generator knows of each (`Info`)."""
    if num_examples <= 0:
        raise ValueError(f"num_examples must be positive, got {num_examples}")
    mix = mix or TextMix()
    rng = random.Random(f"text-{seed}-{span}")
    return [_example(rng, mix, f"{span}-{i}") for i in range(num_examples)]


def write_span(out_dir: str | os.PathLike, span: int, num_examples: int, seed: int = 42,
               mix: TextMix | None = None) -> Path:
    """Writes span `span` atomically (temporary folder, then rename) and returns its folder."""
    final = layout.span_dir(out_dir, span)
    if final.exists():
        raise FileExistsError(f"{final} already exists; choose another span or folder")
    examples = [e for e, _ in generate_examples(num_examples, seed, span, mix)]
    return tx.write_span(out_dir, span, examples)


def generate(out_dir: str | os.PathLike, num_examples: int = 20_000, num_spans: int = 1,
             seed: int = 42, append: bool = False, mix: TextMix | None = None) -> list[Path]:
    """Writes `num_spans` spans of `num_examples` examples each; with `append`, after the
    highest existing span, otherwise into a folder without spans."""
    if num_spans <= 0:
        raise ValueError(f"num_spans must be positive, got {num_spans}")
    if num_examples <= 0:
        raise ValueError(f"num_examples must be positive, got {num_examples}")
    first = tx.next_span(out_dir, append)
    return [write_span(out_dir, span, num_examples, seed, mix)
            for span in range(first, first + num_spans)]
