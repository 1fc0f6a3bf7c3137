"""Matching the expert registry against a nomination call, and the balance of a selection.

Two halves:

- pure functions over plain values (``words``, ``guess_deliverable``, ``guess_roles``, ``score_expert``,
  ``rank_experts``, ``filter_matches``, ``balance``): no database, no Flask, easy to test exactly;
- loaders (``load_call_profile``, ``load_experts``) that read what the pure half needs in a constant
  number of queries, whatever the size of the registry (``match_call`` issues 9).

Scores are points, not probabilities: each matched criterion adds its weight (the constants below),
availability and career stage subtract. Every point comes with a short reason, so staff can see why
an expert ranks where they do. Flags say what staff should look at before inviting (consent, already
invited or on the slate, declared conflicts of interest, competing nominations, current IPBES roles).
"""
from __future__ import annotations

import datetime as dt
import gc
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

# --- weights (points) -------------------------------------------------------------------------------
#: The expert declares expertise in the call's deliverable.
W_DELIVERABLE = 40
#: A past IPBES role on the call's deliverable (counted once).
W_PAST_SAME_DELIVERABLE = 25
#: A past IPBES role among the roles sought, on another deliverable (counted once).
W_PAST_ROLE_SOUGHT = 10
#: The expert wants one of the roles the call seeks.
W_ROLE_WANTED = 15
#: Each word of the expert's keywords found in the call's title, description, keywords or deliverable.
W_KEYWORD = 5
MAX_KEYWORDS = 25
#: Each KM-GBF target or ecosystem named in the call that the expert is tagged with.
W_TAG = 8
MAX_TAGS = 24
#: Fellow calls: early-career experts up, the others strongly down (the programme is for early careers).
W_EARLY_CAREER = 20
P_NOT_EARLY_CAREER = -60
P_UNAVAILABLE = -50
P_LIMITED = -10

#: Flags (codes; the page and the command line show their text).
FLAG_NO_CONSENT = "no_consent"
FLAG_INVITED = "invited"
FLAG_DECLINED = "declined"
FLAG_ON_SLATE = "on_slate"
FLAG_CONFLICT = "conflict_declared"
FLAG_OTHER_CALL = "other_call"
FLAG_CURRENT_ROLE = "current_role"
FLAG_UNAVAILABLE = "unavailable"

# --- words ------------------------------------------------------------------------------------------
STOP_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having
he her here hers herself him himself his how i if in into is it its itself just may me might more most must
my myself no nor not now of off on once only or other our ours ourselves out over own per same shall she
should so some such than that the their theirs them themselves then there these they this those through to
too under until up upon very via was we were what when where which while who whom why will with within
without would you your yours yourself yourselves etc including inclusive incl
au aux avec ce ces dans de des du elle en et eux il je la le les leur lui ma mais me meme mes moi mon ne nos
notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un une vos votre vous
aan als bij dat de den der des die dit door een en er het hun in is met na naar niet of om onder op over te
tot uit van voor wat zijn
""".split())

#: IPBES boilerplate: present in nearly every call, so it says nothing about a match.
GENERIC_WORDS = frozenset("""
ipbes assessment assessments biodiversity ecosystem ecosystems service services nature natures people
contribution contributions report intergovernmental science policy platform methodological thematic
call calls nomination nominations nominate expert experts government governments notification deliverable
fast track fasttrack participate participation author authors lead review editor editors fellow fellows
programme program invitation invited chapter chapters draft scoping undertaking undertake
""".split())

_WORD = re.compile(r"[a-z0-9]+")


def _fold(text: str) -> str:
    """Lower case without accents: "Écosystèmes" → "ecosystemes"."""
    if not text:
        return ""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def stem(word: str) -> str:
    """A light plural stripper, applied on both sides of every comparison ("wetlands" = "wetland")."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def word_list(text: str, *, drop_generic: bool = True) -> list[str]:
    """The normalised content words of ``text`` in order (stop words and, by default, IPBES boilerplate
    removed; plurals stripped; one-letter words dropped)."""
    out = []
    for raw in _WORD.findall(_fold(text)):
        if len(raw) < 2 or raw in STOP_WORDS:
            continue
        w = stem(raw)
        if drop_generic and (raw in GENERIC_WORDS or w in GENERIC_WORDS):
            continue
        out.append(w)
    return out


def words(text: str, *, drop_generic: bool = True) -> set[str]:
    return set(word_list(text, drop_generic=drop_generic))


@lru_cache(maxsize=50000)
def _phrase_words(phrase: str) -> frozenset[str]:
    # Experts type the same keywords ("spatial planning", "governance"): each phrase is normalised once.
    return frozenset(word_list(phrase))


def keyword_words(keywords: str) -> set[str]:
    """The normalised words of a ";"-separated keyword list."""
    out: set[str] = set()
    for phrase in keywords.split(";"):
        phrase = phrase.strip()
        if phrase:
            out |= _phrase_words(phrase)
    return out


# --- guessing a call's deliverable and roles from a notification -------------------------------------
@dataclass(frozen=True)
class DeliverableRef:
    id: int | None
    code: str
    short_name: str
    title: str
    year: int | None = None


_ORDINALS = {"first": "1", "1st": "1", "second": "2", "2nd": "2", "third": "3", "3rd": "3"}


def _deliverable_words(text: str) -> list[str]:
    """Content words with ordinals as digits ("second" → "2") and years left out."""
    return [_ORDINALS.get(w, w) for w in word_list(text) if not (w.isdigit() and len(w) == 4)]


def _contains_sequence(haystack: list[str], needle: list[str]) -> bool:
    if not needle or len(needle) > len(haystack):
        return False
    n = len(needle)
    return any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


def deliverable_scores(text: str, deliverables: list[DeliverableRef], *, year: int | None = None
                       ) -> list[tuple[float, int, DeliverableRef]]:
    """(score, plausibility, deliverable) for each deliverable the text may be about, best first.

    A deliverable is a candidate when the text holds at least half of its distinctive words (those of
    its short name and code, IPBES boilerplate removed), or its head word (the first word of its short
    name, when no other deliverable uses that word: "nexus", "monitoring", "transformative" ...).
    Its score is that share, plus half the share of its full title's words found, plus a quarter per
    word when its short name appears as a phrase (a longer phrase is more specific). Plausibility
    uses the notification's year: a deliverable published before it can hardly be what a call is
    for (2 = published that year or later, 1 = in progress, 0 = already published: half a point
    less); it also breaks ties.
    """
    sequence = _deliverable_words(text)
    text_words = set(sequence)
    distinct_sets = {d.code: set(_deliverable_words(d.short_name)) | set(_deliverable_words(d.code.replace("-", " ")))
                     for d in deliverables}
    frequency: dict[str, int] = defaultdict(int)
    for distinct in distinct_sets.values():
        for w in distinct:
            frequency[w] += 1
    found = []
    for d in deliverables:
        distinct = distinct_sets[d.code]
        if not distinct:
            continue
        coverage = len(distinct & text_words) / len(distinct)
        phrase = _deliverable_words(d.short_name)
        head = phrase[0] if phrase else ""
        if head.isalpha() and len(head) >= 5 and frequency[head] == 1 and head in text_words:
            coverage = max(coverage, 0.5)
        if coverage < 0.5:
            continue
        title_words = set(_deliverable_words(d.title))
        title_cov = len(title_words & text_words) / len(title_words) if title_words else 0.0
        bonus = 0.25 * len(phrase) if len(phrase) > 1 and _contains_sequence(sequence, phrase) else 0.0
        score = coverage + 0.5 * title_cov + bonus
        if year is None or d.year is None:
            plausible = 1
        else:
            plausible = 2 if d.year >= year else 0
        if plausible == 0:
            score -= 0.5
        found.append((round(score, 6), plausible, d))
    found.sort(key=lambda item: (-item[0], -item[1], item[2].code))
    return found


def guess_deliverable(text: str, deliverables: list[DeliverableRef], *, year: int | None = None
                      ) -> DeliverableRef | None:
    """The deliverable a call notification is most likely about, or None when nothing fits well.

    >>> guess_deliverable("Call for experts: second global assessment", refs).code
    'global-2'
    """
    scored = deliverable_scores(text, deliverables, year=year)
    return scored[0][2] if scored else None


#: Roles sought by kind of call (codes of the expert_role vocabulary).
ROLES_BY_KIND = {
    "expert_call": ["CLA", "LA", "RE"],
    "fellow_call": ["FELLOW"],
}


def guess_roles(call_kind: str, text: str) -> list[str]:
    """The roles a call seeks, from its kind and the words of its notification.

    expert_call → CLA, LA, RE (plus SCOPING_EXPERT, TF_MEMBER or CO_CHAIR when the text speaks of
    scoping, a task force or co-chairs); fellow_call → FELLOW; officials_call → BUREAU_MEMBER and/or
    MEP_MEMBER by the words (both when neither is named).
    """
    folded = " ".join(_WORD.findall(_fold(text)))
    if call_kind == "officials_call":
        roles = []
        if re.search(r"\bbureau\b|\bvice chair|\bchair of ipbes\b", folded):
            roles.append("BUREAU_MEMBER")
        if re.search(r"\bmultidisciplinary expert panel\b|\bmep\b", folded):
            roles.append("MEP_MEMBER")
        return roles or ["MEP_MEMBER", "BUREAU_MEMBER"]
    roles = list(ROLES_BY_KIND.get(call_kind, ROLES_BY_KIND["expert_call"]))
    if call_kind == "expert_call":
        if re.search(r"\bco chairs?\b", folded):
            roles.insert(0, "CO_CHAIR")
        if "scoping" in folded:
            roles.append("SCOPING_EXPERT")
        if re.search(r"\btask forces?\b", folded):
            roles.append("TF_MEMBER")
    return roles


_TARGET_LIST = re.compile(r"\btargets?\s+(\d{1,2}(?:\s*(?:,|and|&|et|en)\s*\d{1,2})*)", re.IGNORECASE)
_TARGET_CODE = re.compile(r"\bT(\d{1,2})\b")


def gbf_targets_named(text: str) -> set[str]:
    """KM-GBF targets named in a text: "Target 2", "targets 3, 14 and 15", "T21" → {"T2", ...}."""
    found = set()
    for match in _TARGET_LIST.finditer(text or ""):
        found.update(int(n) for n in re.findall(r"\d{1,2}", match.group(1)))
    found.update(int(n) for n in _TARGET_CODE.findall(text or ""))
    return {f"T{n}" for n in found if 1 <= n <= 23}


#: Words in ecosystem labels that do not identify an ecosystem on their own.
_ECOSYSTEM_NOISE = frozenset({"area", "open", "landscape", "and"})


def ecosystem_triggers(code: str, label: str) -> set[str]:
    """Words that name an ecosystem in a call's text: its code and the words of its label."""
    return (words(label) | words(code)) - _ECOSYSTEM_NOISE


# --- the call and the experts as plain values -------------------------------------------------------
@dataclass(slots=True)
class PastRoleRow:
    deliverable_id: int | None
    deliverable_name: str
    role: str
    year_from: int | None
    year_to: int | None

    def years(self) -> str:
        if self.year_from and self.year_to:
            return str(self.year_from) if self.year_from == self.year_to else f"{self.year_from}–{self.year_to}"
        if self.year_from:
            return f"{self.year_from}–"
        if self.year_to:
            return f"–{self.year_to}"
        return ""

    def describe(self) -> str:
        years = self.years()
        return f"{self.role} on {self.deliverable_name}" + (f" {years}" if years else "")


@dataclass(slots=True)
class ExpertProfile:
    id: int
    name: str
    affiliation: str = ""
    region: str | None = None
    gender: str | None = None
    career_stage: str | None = None
    availability: str = "available"
    has_contact_consent: bool = True
    keywords: str = ""
    roles_wanted: set[str] = field(default_factory=set)
    disciplines: set[str] = field(default_factory=set)
    gbf_targets: set[str] = field(default_factory=set)
    ecosystems: set[str] = field(default_factory=set)
    deliverable_ids: set[int] = field(default_factory=set)
    past_roles: list[PastRoleRow] = field(default_factory=list)

    @property
    def is_ilk(self) -> bool:
        return "ilk" in self.disciplines


@dataclass
class CallProfile:
    id: int | None
    call_kind: str
    deliverable_id: int | None
    deliverable_name: str
    roles_sought: list[str]
    #: Normalised words of the title, description, keywords and the deliverable's names.
    words: set[str]
    gbf_targets: set[str]
    ecosystems: set[str]
    today: dt.date
    #: expert id → (invitation state, declared a conflict of interest) on this call.
    invitations: dict[int, tuple[str, bool]] = field(default_factory=dict)
    #: expert id → nomination state on this call.
    slate: dict[int, str] = field(default_factory=dict)
    #: expert id → titles of other calls where the expert is endorsed or submitted (awaiting selection).
    other_calls: dict[int, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class Match:
    expert: ExpertProfile
    score: int
    reasons: list[str]
    flags: list[tuple[str, str]]

    @property
    def flag_codes(self) -> set[str]:
        return {code for code, _text in self.flags}

    @property
    def can_invite(self) -> bool:
        """Offered for invitation by default: consent given, not invited yet, not on the slate."""
        return not (self.flag_codes & {FLAG_NO_CONSENT, FLAG_INVITED, FLAG_DECLINED, FLAG_ON_SLATE})

    def as_dict(self) -> dict:
        e = self.expert
        return {"expert_id": e.id, "name": e.name, "score": self.score, "reasons": list(self.reasons),
                "flags": [code for code, _text in self.flags], "flag_texts": [text for _code, text in self.flags],
                "can_invite": self.can_invite}


def call_text_profile(*, title: str, description: str, keywords: str, deliverable_short_name: str = "",
                      deliverable_title: str = "", ecosystem_terms: list[tuple[str, str]] = ()
                      ) -> tuple[set[str], set[str], set[str]]:
    """(words, GBF targets named, ecosystem codes named) of a call's texts."""
    text = "\n".join([title or "", description or "", (keywords or "").replace(";", " "),
                      deliverable_short_name or "", deliverable_title or ""])
    call_words = words(text)
    ecosystems = {code for code, label in ecosystem_terms if ecosystem_triggers(code, label) & call_words}
    return call_words, gbf_targets_named(text), ecosystems


# --- scoring (pure) ---------------------------------------------------------------------------------
def scorer(call: CallProfile):
    """A function scoring one expert for ``call``: the call's values are bound once (10,000 experts
    are scored in a loop, so attribute look-ups are hoisted out of it)."""
    deliverable_id, deliverable_name = call.deliverable_id, call.deliverable_name
    roles_sought, sought = list(call.roles_sought), set(call.roles_sought)
    call_words, call_targets, call_ecosystems = call.words, call.gbf_targets, call.ecosystems
    is_fellow_call = call.call_kind == "fellow_call"
    invitations, slate, other_calls = call.invitations, call.slate, call.other_calls
    year = call.today.year
    expertise_reason = f"expertise in {deliverable_name}"

    def score(e: ExpertProfile) -> Match:
        points = 0
        reasons: list[str] = []
        flags: list[tuple[str, str]] = []
        if deliverable_id is not None and deliverable_id in e.deliverable_ids:
            points += W_DELIVERABLE
            reasons.append(expertise_reason)
        past_roles = e.past_roles
        if past_roles:
            same = [r for r in past_roles if deliverable_id is not None and r.deliverable_id == deliverable_id]
            if same:
                points += W_PAST_SAME_DELIVERABLE
                reasons.extend(r.describe() for r in same)
            else:
                elsewhere = [r for r in past_roles if r.role in sought]
                if elsewhere:
                    points += W_PAST_ROLE_SOUGHT
                    reasons.append(max(elsewhere, key=lambda r: (r.year_from or 0, r.year_to or 0)).describe())
        if e.roles_wanted:
            wanted = [code for code in roles_sought if code in e.roles_wanted]
            if wanted:
                points += W_ROLE_WANTED
                reasons.append("wants " + ", ".join(wanted))
        if e.keywords:
            common = keyword_words(e.keywords) & call_words
            if common:
                points += min(MAX_KEYWORDS, W_KEYWORD * len(common))
                reasons.append("keywords: " + ", ".join(sorted(common)))
        targets = e.gbf_targets & call_targets if call_targets and e.gbf_targets else ()
        ecosystems = e.ecosystems & call_ecosystems if call_ecosystems and e.ecosystems else ()
        if targets or ecosystems:
            points += min(MAX_TAGS, W_TAG * (len(targets) + len(ecosystems)))
            if targets:
                reasons.append("GBF targets: " + ", ".join(sorted(targets, key=_target_number)))
            if ecosystems:
                reasons.append("ecosystems: " + ", ".join(sorted(ecosystems)))
        if is_fellow_call:
            if e.career_stage == "early":
                points += W_EARLY_CAREER
                reasons.append("early career")
            else:
                points += P_NOT_EARLY_CAREER
                reasons.append("not early career (fellowships are for early careers)")
        availability = e.availability
        if availability == "unavailable":
            points += P_UNAVAILABLE
            reasons.append("unavailable")
            flags.append((FLAG_UNAVAILABLE, "says they are unavailable"))
        elif availability == "limited":
            points += P_LIMITED
            reasons.append("limited availability")

        if not e.has_contact_consent:
            flags.append((FLAG_NO_CONSENT, "no consent to be contacted"))
        eid = e.id
        invitation = invitations.get(eid)
        if invitation is not None:
            state, conflict = invitation
            if state == "declined":
                flags.append((FLAG_DECLINED, "declined this call"))
            else:
                flags.append((FLAG_INVITED, f"already invited ({state})"))
            if conflict:
                flags.append((FLAG_CONFLICT, "declared a conflict of interest"))
        if eid in slate:
            flags.append((FLAG_ON_SLATE, f"on the slate ({slate[eid].replace('_', ' ')})"))
        if eid in other_calls:
            for title in other_calls[eid]:
                flags.append((FLAG_OTHER_CALL, f"nominated on another call: {title}"))
        if past_roles:
            for r in past_roles:
                # a term that covers this year, or one started in the last three years with no end given
                if (r.year_to is not None and r.year_to >= year and (r.year_from or 0) <= year) or \
                        (r.year_to is None and r.year_from is not None and year - 3 <= r.year_from <= year):
                    flags.append((FLAG_CURRENT_ROLE, f"current IPBES role: {r.describe()}"))
        return Match(e, points, reasons, flags)

    return score


def _target_number(code: str) -> int:
    return int(code[1:]) if code[1:].isdigit() else 99


def score_expert(call: CallProfile, e: ExpertProfile) -> Match:
    """The score of one expert for the call, with its reasons and flags (see the weights above)."""
    return scorer(call)(e)


def rank_experts(call: CallProfile, experts: list[ExpertProfile]) -> list[Match]:
    """Every expert scored, best first; equal scores in name order, then by id (a stable order)."""
    score = scorer(call)
    matches = [score(e) for e in experts]
    matches.sort(key=lambda m: (-m.score, _fold(m.expert.name), m.expert.id))
    return matches


@dataclass
class MatchFilters:
    region: str = ""
    gender: str = ""
    career_stage: str = ""
    discipline: str = ""
    min_score: int | None = None
    hide_invited: bool = False


def filter_matches(matches: list[Match], f: MatchFilters) -> list[Match]:
    """Matches that pass every filter (they combine with AND)."""
    out = []
    for m in matches:
        e = m.expert
        if f.region and e.region != f.region:
            continue
        if f.gender and e.gender != f.gender:
            continue
        if f.career_stage and e.career_stage != f.career_stage:
            continue
        if f.discipline and f.discipline not in e.disciplines:
            continue
        if f.min_score is not None and m.score < f.min_score:
            continue
        if f.hide_invited and m.flag_codes & {FLAG_INVITED, FLAG_DECLINED, FLAG_ON_SLATE}:
            continue
        out.append(m)
    return out


# --- balance (pure) ---------------------------------------------------------------------------------
@dataclass
class Share:
    key: str
    label: str
    count: int
    share: Fraction

    @property
    def percent(self) -> int:
        """The share in whole percent, rounded half up."""
        return int(self.share * 100 + Fraction(1, 2)) if self.share else 0

    def scaled(self, width: int) -> float:
        """The length of this share's bar in a chart ``width`` wide."""
        return round(float(self.share) * width, 1)


BALANCE_DIMENSIONS = ("gender", "region", "discipline", "career_stage", "ilk")
NOT_STATED = "none"


def balance(experts: list[ExpertProfile], labels: dict[str, dict[str, str]]) -> dict[str, list[Share]]:
    """Shares of the selection per dimension, exactly (as fractions of the number of experts).

    ``labels[dimension]`` gives the categories to show, in order (every one is shown, even at 0);
    values not in it are counted under their own code. Disciplines are several per expert: each
    share is the part of the experts with that discipline, so they may add up to more than 1.
    ``ilk`` counts experts with the ILK discipline ("yes") and the others ("no").
    """
    total = len(experts)
    result = {}
    for dim in BALANCE_DIMENSIONS:
        counts: dict[str, int] = defaultdict(int)
        for e in experts:
            if dim == "discipline":
                for code in e.disciplines or {NOT_STATED}:
                    counts[code] += 1
            elif dim == "ilk":
                counts["yes" if e.is_ilk else "no"] += 1
            else:
                counts[getattr(e, dim) or NOT_STATED] += 1
        known = labels.get(dim, {})
        keys = list(known) + sorted(k for k in counts if k not in known)
        result[dim] = [Share(key=k, label=known.get(k, k), count=counts.get(k, 0),
                             share=Fraction(counts.get(k, 0), total) if total else Fraction(0))
                       for k in keys if k in known or counts.get(k)]
    return result


# --- loading (constant number of queries) -----------------------------------------------------------
def load_experts(session, *, ids=None, active_only: bool = True, maps=None) -> list[ExpertProfile]:
    """The registry as ExpertProfiles, in 4 queries: the experts; their tags and their deliverables, each
    aggregated into one string per expert by the database (10,000 rows instead of 60,000); their past
    roles. No joins between them: each query's plan stays linear whatever the table statistics say.
    Tag and deliverable names come from ``reference_maps``."""
    import sqlalchemy as sa

    from focalpoint.experts.models import Expert, ExpertStatus, PastRole, expert_deliverables, expert_terms

    text = sa.String
    id_list = sorted(set(ids)) if ids is not None else None
    if id_list is not None and not id_list:
        return []
    stmt = sa.select(Expert.id, Expert.first_name, Expert.last_name, Expert.email, Expert.affiliation, Expert.region,
                     sa.type_coerce(Expert.gender, text), sa.type_coerce(Expert.career_stage, text),
                     sa.type_coerce(Expert.availability, text), Expert.consent_contact_at.isnot(None),
                     Expert.keywords)
    if active_only:
        stmt = stmt.where(Expert.status == ExpertStatus.ACTIVE, Expert.merged_into_id.is_(None))
    if id_list is not None:
        stmt = stmt.where(Expert.id.in_(id_list))

    def aggregated(table, column):
        # {expert id: "3,17,42"} (group_concat on SQLite, string_agg on PostgreSQL)
        agg = (sa.select(table.c.expert_id, sa.func.aggregate_strings(sa.cast(column, text), ","))
               .group_by(table.c.expert_id))
        if id_list is not None:
            agg = agg.where(table.c.expert_id.in_(id_list))
        return dict(conn.execute(agg).all())

    terms, deliverable_names = maps or reference_maps(session)
    slot = {"expert_role": 0, "discipline": 1, "gbf_target": 2, "ecosystem": 3}
    term_target = {str(tid): (slot[vocab], code) for tid, (vocab, code, _label) in terms.items() if vocab in slot}
    conn = session.connection()
    rows = conn.execute(stmt).all()
    if not rows:
        return []
    tags = aggregated(expert_terms, expert_terms.c.term_id)
    delivs = aggregated(expert_deliverables, expert_deliverables.c.deliverable_id)
    profiles: dict[int, ExpertProfile] = {}
    for eid, first, last, email, affiliation, region, gender, stage, availability, consent, keywords in rows:
        sets = (set(), set(), set(), set())
        tag_ids = tags.get(eid)
        if tag_ids:
            for tid in tag_ids.split(","):
                target = term_target.get(tid)
                if target is not None:
                    sets[target[0]].add(target[1])
        deliverable_ids = delivs.get(eid)
        profiles[eid] = ExpertProfile(
            eid, f"{first} {last}".strip() or (email or f"#{eid}"), affiliation or "", region, gender, stage,
            availability or "available", bool(consent), keywords or "", sets[0], sets[1], sets[2], sets[3],
            {int(d) for d in deliverable_ids.split(",")} if deliverable_ids else set(), [])
    roles = sa.select(PastRole.expert_id, PastRole.deliverable_id, PastRole.deliverable_text, PastRole.role,
                      PastRole.year_from, PastRole.year_to).order_by(PastRole.year_from, PastRole.id)
    if id_list is not None:
        roles = roles.where(PastRole.expert_id.in_(id_list))
    for eid, did, dtext, role, y1, y2 in conn.execute(roles):
        p = profiles.get(eid)
        if p is not None:
            p.past_roles.append(PastRoleRow(deliverable_id=did, deliverable_name=deliverable_names.get(did) or dtext
                                            or "an IPBES deliverable", role=role, year_from=y1, year_to=y2))
    return list(profiles.values())


def reference_maps(session) -> tuple[dict[int, tuple[str, str, str]], dict[int, str]]:
    """({term id: (vocabulary, code, label)}, {deliverable id: short name}) in 2 small queries."""
    import sqlalchemy as sa

    from focalpoint.reference.models import Deliverable, ReferenceTerm

    terms = {tid: (vocab, code, label) for tid, vocab, code, label in session.execute(
        sa.select(ReferenceTerm.id, ReferenceTerm.vocabulary, ReferenceTerm.code, ReferenceTerm.label))}
    names = dict(session.execute(sa.select(Deliverable.id, Deliverable.short_name)).all())
    return terms, names


def load_call_profile(session, call, *, today: dt.date | None = None, maps=None) -> CallProfile:
    """The call as a CallProfile: its words and tags, and who is already invited or on its slate
    (3 queries besides the reference maps)."""
    import sqlalchemy as sa

    from focalpoint.invitations.models import Invitation
    from focalpoint.nominations.models import Nomination, NominationCall, NominationState

    terms, _names = maps or reference_maps(session)
    ecosystem_terms = [(code, label) for vocab, code, label in terms.values() if vocab == "ecosystem"]
    deliverable = call.deliverable
    call_words, targets, ecosystems = call_text_profile(
        title=call.title, description=call.description, keywords=call.keywords,
        deliverable_short_name=deliverable.short_name if deliverable else "",
        deliverable_title=deliverable.title if deliverable else "", ecosystem_terms=ecosystem_terms)
    invitations = {eid: (str(state.value if hasattr(state, "value") else state), bool(conflict))
                   for eid, state, conflict in session.execute(
                       sa.select(Invitation.expert_id, Invitation.state, Invitation.has_conflict)
                       .where(Invitation.call_id == call.id))}
    slate = {eid: str(state.value if hasattr(state, "value") else state) for eid, state in session.execute(
        sa.select(Nomination.expert_id, Nomination.state).where(Nomination.call_id == call.id))}
    other_calls: dict[int, list[str]] = defaultdict(list)
    for eid, title in session.execute(
            sa.select(Nomination.expert_id, NominationCall.title)
            .join(NominationCall, NominationCall.id == Nomination.call_id)
            .where(Nomination.call_id != call.id,
                   Nomination.state.in_([NominationState.ENDORSED, NominationState.SUBMITTED]))
            .order_by(NominationCall.id)):
        other_calls[eid].append(title)
    return CallProfile(
        id=call.id, call_kind=call.call_kind, deliverable_id=call.deliverable_id,
        deliverable_name=deliverable.short_name if deliverable else "",
        roles_sought=[t.code for t in sorted(call.roles_sought, key=lambda t: t.position)],
        words=call_words, gbf_targets=targets, ecosystems=ecosystems,
        today=today or dt.datetime.now(dt.timezone.utc).date(),
        invitations=invitations, slate=slate, other_calls=dict(other_calls))


def match_call(session, call, *, today: dt.date | None = None) -> list[Match]:
    """Every active expert ranked against ``call`` (9 queries, whatever the registry's size)."""
    maps = reference_maps(session)
    profile = load_call_profile(session, call, today=today, maps=maps)
    # Tens of thousands of small objects are made and kept: without the cyclic collector running in
    # the middle (they hold no cycles) the ranking takes markedly less time.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return rank_experts(profile, load_experts(session, maps=maps))
    finally:
        if enabled:
            gc.enable()
