"""Pure rules that read an IPBES notification: its reference, kind, reminder flag and deadlines.

No Flask and no database here: ``extract(title, text, published)`` takes plain text (the caller has
already stripped the HTML) and returns an :class:`Extraction`. Everything is deterministic and
explainable: the classifier returns the name of the rule that fired, and every deadline keeps the
sentence it came from.

The rules are written from the secretariat's wording (DESIGN.md 2.1), not from particular notices:

* references are ``EM/<year>/<number>`` (``EM/2025/01``, ``EM/2017/9``) or the older
  ``LE/<year>-<number>``; the notification's own one is in the title or introduced as its own in the
  text ("Our Ref:", "Reference:", or printed at the very start); one the text cites ("Further to …",
  "With reference to notification …") is related, never own;
* a date is a deadline only when its own context says so (a cue such as "by", "no later than",
  "deadline", "closes", "until", or an open period "from … to …"); session, event and publication
  dates are not deadlines;
* work is bounded: only the first ``MAX_TEXT`` characters of the text are read, and every regular
  expression is free of nested unbounded repetition, so hostile input cannot make it backtrack.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, replace
from itertools import islice

__all__ = [
    "KINDS",
    "ExtractedDeadline",
    "Extraction",
    "extract",
    "find_references",
    "classify",
    "extract_deadlines",
    "national_deadline",
]

KINDS = ("expert_call", "fellow_call", "officials_call", "review", "plenary",
         "inputs_call", "offers_call", "event", "other")

#: Only this much of a notification's text is read (notices put the call and its deadlines first).
MAX_TEXT = 20_000
MAX_TITLE = 1_000
#: find_references() reads at most this much of any string.
MAX_REF_SCAN = 100_000
#: At most this many references of a notification's text are weighed as own or related.
MAX_REFS = 200
#: At most this many dates are considered per notification.
MAX_DATES = 400
#: How far back before a date its label and open-period cues are looked for (bounds the work per date).
_LOOKBACK = 300


@dataclass(frozen=True)
class ExtractedDeadline:
    date: dt.date
    label: str          # "application", "nomination", "comments", "offers", "inputs", "submission", ...
    text: str           # the sentence (or title) the date came from, whitespace-collapsed, <= 500 chars
    time: dt.time | None = None
    tz: str | None = None           # IANA name when a zone is stated
    source: str = "text"            # "title" or "text"


@dataclass(frozen=True)
class Extraction:
    reference: str | None
    is_reminder: bool
    related_references: list[str]
    kind: str
    kind_rule: str
    deadlines: list[ExtractedDeadline]


_I = re.IGNORECASE

# --------------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------------

_DASH = "\\-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_SEP = rf"[ \t]*[/{_DASH}][ \t]*"
_REF_RE = re.compile(
    rf"(?<![A-Za-z0-9])(?P<p>EM|LE){_SEP}(?P<y>(?:19|20)\d\d)(?P<s>{_SEP})(?P<n>\d{{1,3}})(?![0-9])",
    _I,
)


def _norm_ref(m: re.Match) -> str:
    prefix = m.group("p").upper()
    # EM references use slashes throughout; the older LE ones a hyphen before the number.
    sep = "-" if prefix == "LE" else "/"
    return f"{prefix}/{m.group('y')}{sep}{m.group('n')}"


def _ref_key(ref: str) -> tuple[str, int, int]:
    """Identity of a reference, so that EM/2025/1 and EM/2025/01 count as the same one."""
    prefix, rest = ref[:2], ref[3:]
    year, num = re.split(r"[/-]", rest, maxsplit=1)
    return prefix, int(year), int(num)


def _iter_refs(s: str):
    for m in _REF_RE.finditer(s):
        yield m, _norm_ref(m)


def find_references(s: str) -> list[str]:
    """Every IPBES reference in ``s``, in order of appearance, normalised and deduplicated."""
    if not s or not isinstance(s, str):
        return []
    out: list[str] = []
    seen: set = set()
    for _m, ref in _iter_refs(s[:MAX_REF_SCAN]):
        key = _ref_key(ref)
        if key not in seen:
            seen.add(key)
            out.append(ref)
    return out


# A reference preceded by one of these (in the same sentence) is cited, not the notification's own.
_CITE_RE = re.compile(
    r"\b(?:further\s+to|with\s+reference\s+to|in\s+reference\s+to|reference\s+is\s+made\s+to|"
    r"referr?(?:ing|ed|s)?\s+to|in\s+response\s+to|following(?:\s+up)?(?:\s+on)?|pursuant\s+to|"
    r"in\s+(?:accordance|connection|line)\s+with|as\s+(?:announced|indicated|stated|mentioned|described|"
    r"communicated|requested|explained|outlined|set\s+out)\s+in|in\s+addition\s+to|supplement(?:ing|s)?\s+to|"
    r"reminder\s+(?:of|about|regarding|concerning|on)|remind(?:s|ing|ed)?|see|cf|(?:previous|earlier|original|prior|above|last)\s+notifications?|"
    r"(?:my|our|its)\s+notifications?|(?:in|by|under|through)\s+(?:the\s+)?notifications?|"
    r"(?:extension|extends?|extended|amend(?:s|ing|ment)?)\s+(?:of|to)?|"
    r"(?:as\s+a\s+)?follow-?up\s+(?:to|of|on)|"
    r"in\s+the\s+context\s+of|subsequent\s+to|complement(?:s|ing)?|building\s+on|recall\w*|attention\s+to|"
    r"mentioned\s+in|announced\s+in)\b",
    _I,
)
# "Our Ref: EM/2016/22", "Ref.: …", "Reference: …", "Reference number …" directly before a reference.
_OWN_MARK_RE = re.compile(
    r"(?:\b(?:our\s+)?ref(?:erence)?\b\.?\s*(?:no\.?|number|n°)?\s*[:#.]?)\s*\(?\s*$",
    _I,
)
#: A reference this close to the start of the text, after nothing but a letterhead (a date, a place,
#: "Notification", "Ref."), is the notice's own: copies of the PDF start
#: "8 September 2023 EM/2023/31 Notification: …".
_OWN_START_CHARS = 120
_HEADER_WORDS = frozenset(
    "notification notice ipbes secretariat ref reference our no nr number date dated bonn germany em le "
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday "
    "sunday st nd rd th reminder".split()
)
_WORD_RE = re.compile(r"[A-Za-z]+")


def _letterhead_only(prefix: str) -> bool:
    return all(w.lower() in _HEADER_WORDS for w in _WORD_RE.findall(prefix))


def _cited(text: str, pos: int) -> bool:
    window = text[max(0, pos - 160):pos]
    cut = max(window.rfind(". "), window.rfind("\n"))
    if cut >= 0:
        window = window[cut + 1:]
    if _OWN_MARK_RE.search(window[-40:]):
        return False
    return _CITE_RE.search(window) is not None


def _references(title: str, text: str) -> tuple[str | None, list[str]]:
    title_refs = list(_iter_refs(title))
    text_refs = list(islice(_iter_refs(text), MAX_REFS))
    cited = {_ref_key(r) for m, r in text_refs if _cited(text, m.start())}

    own = None
    # The title's reference is the notification's own. A reminder or extension usually carries its
    # own reference in the title too, so it stays own; only when the body explicitly cites that same
    # reference ("With reference to notification EM/2022/31 …") is the title quoting the original
    # call's reference, which then becomes a related reference and the item has no own reference
    # unless the text introduces one ("Our Ref: …").
    # A title naming several references ("Reminder: calls for experts (EM/2024/45) and fellows
    # (EM/2024/46)") names the calls it is about; only one leading the title is its own.
    for m, ref in title_refs:
        if _ref_key(ref) in cited:
            continue
        if len(title_refs) == 1 or _letterhead_only(title[:m.start()]):
            own = ref
        break
    if own is None:
        for m, ref in text_refs:
            if _ref_key(ref) in cited:
                continue
            before = text[max(0, m.start() - 40):m.start()]
            at_start = m.start() <= _OWN_START_CHARS and _letterhead_only(text[:m.start()])
            if at_start or _OWN_MARK_RE.search(before):
                own = ref
                break

    related: list[str] = []
    seen = {_ref_key(own)} if own else set()
    for _m, ref in title_refs + text_refs:
        key = _ref_key(ref)
        if key not in seen:
            seen.add(key)
            related.append(ref)
    return own, related


# --------------------------------------------------------------------------------------------
# Reminders
# --------------------------------------------------------------------------------------------

_REMINDER_TITLE_RE = re.compile(
    r"\breminders?\b|\bextension\s+of\s+(?:the\s+)?(?:deadlines?|call|period)\b|\bdeadlines?\s+extension\b|"
    r"\b(?:deadlines?|call|period|nominations?|review|registration|consultation)\b[^.]{0,40}?\bextended\b|"
    r"\bextended\s+(?:deadlines?|call|period|until|to)\b|\bnew\s+deadline\b|"
    r"\b(?:closes|closing|ends|ending|expires)\s+"
    r"(?:soon|today|tomorrow|this\s+week|next\s+week|in\s+\d{1,2}\s+days)\b|"
    r"\b(?:last|final)\s+(?:call|chance|reminder|days?)\b|\bdon'?t\s+miss\b|\bstill\s+open\b|"
    r"\bdeadlines?\s+(?:is\s+)?approaching\b|\bapproaching\s+deadlines?\b|"
    r"\b(?:few|\d{1,2})\s+(?:days|weeks)\s+left\b|"
    r"\bre-?open(?:s|ed|ing)?\b",
    _I,
)
# In the body only unambiguous phrasing counts: "this is a reminder", "the deadline has been extended".
_REMINDER_TEXT_RE = re.compile(
    r"\bthis\s+is\s+a\s+(?:friendly\s+|gentle\s+|kind\s+|last\s+|final\s+)?reminder\b|"
    r"\bremind\s+you\s+(?:of|about)\s+(?:the|my|our)\s+(?:notification|call|invitation)\b|"
    r"\bremind\s+you\s+that\s+the\s+deadline\b|"
    r"\b(?:deadlines?|call|period)\b[^.]{0,80}?\b(?:has|have)\s+been\s+extended\b|"
    r"\b(?:decided|pleased|agreed|wish|like)\s+to\s+extend\s+the\s+deadline\b|"
    r"\bextension\s+of\s+the\s+deadline\b",
    _I,
)


def _is_reminder(title: str, text: str) -> bool:
    # "Now live" / "now open" announce the call itself, so they are not reminders.
    return bool(_REMINDER_TITLE_RE.search(title) or _REMINDER_TEXT_RE.search(text[:4000]))


# --------------------------------------------------------------------------------------------
# Kinds
# --------------------------------------------------------------------------------------------

def _alt(*parts: str) -> str:
    """One alternation out of readable pieces."""
    return "(?:" + "|".join(parts) + ")"


def _r(*parts: str) -> re.Pattern:
    return re.compile(_alt(*parts), _I)


_CALLISH = _alt(
    r"\bcall(?:s|ing)?\b", r"\bnominat\w*", r"\bapplica\w*", r"\bapply\b", r"\binvit\w*", r"\bseek\w*",
    r"\bjoin\b", r"\brecruit\w*", r"\bexpressions?\s+of\s+interest\b", r"\bwanted\b", r"\bopportunit\w*",
    r"\bvacanc\w*", r"\bcandida\w*", r"\bselection\s+of\b",
)
_EXPERT_TERM = _alt(
    r"\bexperts?\b(?!\s*-?\s*review)(?!\s+panel)(?!\s+to\s+(?:review|comment))",
    r"\bco-?chairs?\b", r"\blead\s+authors?\b", r"\bcontributing\s+authors?\b", r"\breview\s+editors?\b",
    r"\bauthors\b", r"\btask[\s-]+forces?\b", r"\bexpert\s+groups?\b",
)
_FELLOW_TERM = r"\bfellow(?:s|ship|ships)?\b"
_OFFICIAL_BODY = _alt(
    r"\bbureau\b", r"\bmultidisciplinary\s+expert\s+panel\b", r"(?-i:\bMEP\b)", r"\breview\s+panel\b",
)


@dataclass(frozen=True)
class _Rule:
    kind: str
    name: str
    pattern: re.Pattern
    also: re.Pattern | None = None      # must also match
    unless: re.Pattern | None = None    # must not match


_OFFERS = _r(
    r"\b(?:offers?|(?:expressions?\s+of\s+)?interest|proposals?|bids?)\s+to\s+host\b",
    r"\bhost(?:ing)?\s+(?:the\s+|a\s+)?technical\s+support\s+units?\b",
    r"\bcall\s+for\s+offers\b",
    r"\boffers?\b[^.]{0,60}?\btechnical\s+support\s+units?\b",
)
_OFFICIALS = _r(
    _OFFICIAL_BODY, r"\b(?:ipbes|platform)\s+chair\b",
    r"\bchair(?:person)?\s+of\s+(?:the\s+)?(?:ipbes|platform)\b",
    r"\bexecutive\s+secretary\b", r"\bofficers\s+of\s+the\s+(?:platform|plenary)\b",
)
_OFFICIALS_CTX = _r(
    r"\bnominat\w*", r"\bcandida\w*", r"\belect\w*", r"\bcall\b", r"\bvacanc\w*", r"\bseats?\b",
    r"\bmembers?\b", r"\bcomposition\b", r"\bappoint\w*",
)
_RESULTS = _r(
    r"\bselected\s+(?:experts|fellows|candidates|authors)\b",
    r"\b(?:results?|outcomes?)\s+of\s+(?:the\s+)?(?:call|selection|nominations?)\b",
    r"\bselection\s+results\b", r"\bannouncement\s+of\s+(?:the\s+)?selec\w+", r"\bcongratulat\w+",
)
_FINANCE = _r(
    r"\b(?:financial|monetary|in-kind|cash)\s+contributions?\b", r"\btrust\s+fund\b", r"\bpledges?\b",
)
_FELLOW = _r(_FELLOW_TERM)
_EXPERT = _r(_EXPERT_TERM)
_CALL = _r(_CALLISH)
_EVENT = _r(
    r"\bwebinars?\b", r"\bworkshops?\b", r"\bdialogues?\b", r"\bseminars?\b", r"\bconferences?\b",
    r"\bsymposi(?:um|a)\b", r"\bforums?\b", r"\bside[\s-]+events?\b", r"\blaunch\s+events?\b",
    r"\binfo(?:rmation)?\s+sessions?\b", r"\bround[\s-]?tables?\b", r"\btraining\b", r"\bhackathons?\b",
    r"\bpanel\s+discussions?\b", r"\bonline\s+events?\b", r"\bwalk-?through\b",
)
# Weaker event words, weighed only after everything else ("IPBES 11 meeting documents" is plenary).
_MEETING = _r(r"\bevents?\b", r"\bmeetings?\b", r"\blaunch\b", r"\bstakeholder\s+days?\b")
_REVIEW = _r(
    r"\b(?:external|expert|government|governmental|peer|open|public)\s+reviews?\b",
    r"\breview\s+(?:of\s+)?(?:the\s+)?(?:first|second|final|draft|revised)\b",
    r"\b(?:first|second|final)[\s-]+order\s+drafts?\b", r"\bconsultative\s+process\b",
    r"\bcall\s+for\s+(?:expert\s+)?reviewers\b", r"\bexpert\s+reviewers?\b", r"\breviewers?\b",
    r"\bcomments?\s+(?:are\s+|is\s+)?invited\b", r"\binvitation\s+to\s+(?:comment|review)\b",
    r"\bcall\s+for\s+comments\b",
    r"\b(?:comments?|commenting|feedback)\b[^.]{0,60}?\bdrafts?\b",
    r"\bdrafts?\b[^.]{0,60}?\b(?:comments?|review\w*)\b",
    r"\bdraft\s+(?:summary\s+for\s+policymakers|scoping\s+reports?|chapters?)\b",
)
_PLENARY = _r(
    r"\bplenary\b", r"\bipbes[\s-]?\d{1,2}\b(?![/\d])", r"\bsessions?\s+of\s+(?:the\s+)?(?:ipbes|platform)\b",
    r"\bsave[\s-]+the[\s-]+date\b", r"\bprovisional\s+agenda\b", r"\bcredentials\b",
    r"\bpre-?session\s+documents?\b",
    r"\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|"
    r"fourteenth|fifteenth|\d{1,2}(?:st|nd|rd|th))\s+session\b",
)
_INPUTS_CALL = _r(
    r"\b(?:call|requests?|invitation)\s+(?:for|to\s+submit)\s+(?:further\s+)?"
    r"(?:inputs?|submissions?|contributions?|views|suggestions|requests|proposals|information|data|"
    r"case\s+stud(?:y|ies)|examples|evidence|resources)\b",
)
_INPUTS = _r(
    r"\b(?:inputs?|submissions?|contributions?|views|suggestions|proposals)\b", r"\bquestionnaires?\b",
    r"\bcontribute\b",
    r"\bsurveys?\b", r"\brequests?\s+for\s+(?:inputs?|information|data)\b", r"\bconsultation\b",
)
_NOMINATIONS = _r(
    r"\bnominat\w*", r"\bcall\s+for\s+(?:applications|candidates)\b", r"\bexpressions?\s+of\s+interest\b",
)

_GENERIC_NOMINATIONS = _Rule("expert_call", "title: call for nominations (experts by default)", _NOMINATIONS)
_TITLE_RULES: tuple[_Rule, ...] = (
    _Rule("offers_call", "title: offers to host (technical support unit, session)", _OFFERS),
    _Rule("other", "title: announcement of selection results", _RESULTS, unless=_r(r"\bcall\s+for\b")),
    _Rule("officials_call", "title: nominations for Bureau / MEP / review panel / Chair", _OFFICIALS,
          also=_OFFICIALS_CTX),
    _Rule("inputs_call", "title: call for inputs / submissions / views", _INPUTS_CALL,
          unless=_r(r"\bnominat\w*")),
    # fellows vs experts is decided by which is named first (see _classify_with)
    _Rule("fellow_call", "title: call for nominations … fellows", _FELLOW, also=_CALL),
    _Rule("expert_call", "title: call for nominations … experts / authors / task force", _EXPERT, also=_CALL),
    _Rule("event", "title: webinar / workshop / dialogue / event", _EVENT),
    _Rule("review", "title: review of drafts / comments invited", _REVIEW),
    _Rule("plenary", "title: plenary session / save the date", _PLENARY),
    _Rule("other", "title: financial contributions", _FINANCE),
    _Rule("inputs_call", "title: inputs / submissions / contributions / questionnaire", _INPUTS),
    _GENERIC_NOMINATIONS,
    _Rule("event", "title: meeting / event / launch", _MEETING),
)

_NOMINATE = r"\b(?:nominat\w*|candida\w*|elect\w*)\b"
_APPLY = r"\b(?:nominat\w*|appl(?:y|ication)\w*|candida\w*)\b"
# In the body the same vocabulary is used, but only where the secretariat says what it invites.
_TEXT_RULES: tuple[_Rule, ...] = (
    _Rule("offers_call", "text: invites offers to host", _OFFERS),
    _Rule("officials_call", "text: nominations for Bureau / MEP / review panel",
          _r(_NOMINATE + r"[^.]{0,120}?" + _OFFICIAL_BODY, _OFFICIAL_BODY + r"[^.]{0,120}?" + _NOMINATE)),
    _Rule("fellow_call", "text: invites nominations of fellows",
          _r(_APPLY + r"[^.]{0,160}?" + _FELLOW_TERM, _FELLOW_TERM + r"[^.]{0,160}?" + _APPLY)),
    _Rule("expert_call", "text: invites nominations of experts",
          _r(r"\bnominat\w*[^.]{0,120}?" + _EXPERT_TERM, _EXPERT_TERM + r"[^.]{0,120}?\bnominat\w*",
             r"\bnominate\s+(?:candidates|authors|experts)\b")),
    _Rule("review", "text: invites comments on a draft",
          _r(r"\b(?:external|expert|government|governmental|peer)\s+review\b",
             r"\b(?:first|second|final)[\s-]+order\s+drafts?\b", r"\bcomments?\b[^.]{0,80}?\bdrafts?\b",
             r"\breview\s+(?:of\s+)?the\s+(?:draft|first|second)\b", r"\bexpert\s+reviewers?\b",
             r"\bconsultative\s+process\b")),
    _Rule("plenary", "text: session of the Plenary",
          _r(r"\bsession\s+of\s+the\s+(?:ipbes\s+)?plenary\b", r"\bplenary\s+session\b",
             r"\bsession\s+of\s+the\s+platform\b")),
    _Rule("event", "text: invites to a webinar / workshop / dialogue",
          _r(r"\b(?:webinars?|workshops?|dialogues?|seminars?|information\s+sessions?|side\s+events?)\b")),
    _Rule("inputs_call", "text: invites inputs / views / submissions",
          _r(r"\bsubmit\w*\s+(?:their\s+|your\s+|its\s+|any\s+)?(?:views|inputs?|contributions?|suggestions|"
             r"requests|proposals|information|case\s+stud(?:y|ies)|examples)\b",
             r"\bquestionnaire\b", r"\bsurvey\b", r"\bcall\s+for\s+(?:inputs?|submissions?|contributions?)\b",
             r"\bshare\s+(?:their|your|its)\s+(?:knowledge|experiences?|views|information|examples)\b",
             r"\b(?:inputs?|views|suggestions)\s+(?:on|to|regarding)\b")),
)

_INVITING = _r(r"\binvit\w*", r"\bencourag\w*", r"\brequest\w*", r"\bpleased\b", r"\bplease\b", r"\bcall\b",
               r"\bwelcome\w*", r"\bseek\w*")


def _match(rule: _Rule, s: str) -> re.Match | None:
    m = rule.pattern.search(s)
    if not m:
        return None
    if rule.also is not None and not rule.also.search(s):
        return None
    if rule.unless is not None and rule.unless.search(s):
        return None
    return m


def _classify_with(rules: tuple[_Rule, ...], s: str) -> tuple[str, str] | None:
    for i, rule in enumerate(rules):
        m = _match(rule, s)
        if not m:
            continue
        if rule.kind == "fellow_call":
            # A call that names experts before fellows ("… experts: Global Assessment … and Fellowship
            # Programme") is a call for experts that also takes fellows.
            expert = next((r for r in rules[i + 1:] if r.kind == "expert_call"), None)
            em = _match(expert, s) if expert else None
            if em and em.start() < m.start():
                return expert.kind, expert.name + " (named before fellows)"
        return rule.kind, rule.name
    return None


_NOMINATION_KINDS = frozenset({"fellow_call", "officials_call", "expert_call"})


def classify(title: str, text: str) -> tuple[str, str]:
    """The notification's kind and the name of the rule that decided; the title decides first."""
    title = (title or "")[:MAX_TITLE] if isinstance(title, str) else ""
    text = (text or "")[:MAX_TEXT] if isinstance(text, str) else ""
    got = _classify_with(_TITLE_RULES, _collapse(title))
    if got and got[1] == _GENERIC_NOMINATIONS.name:
        # A bare "Call for nominations" title: the text says of whom (fellows, Bureau, experts).
        from_text = _classify_text(text)
        if from_text and from_text[0] in _NOMINATION_KINDS:
            return from_text
        return got
    return got or _classify_text(text) or ("other", "default: no rule matched")


def _classify_text(text: str) -> tuple[str, str] | None:
    sentences = _split_sentences(text[:6000])
    # The sentence that says what is invited decides; otherwise any sentence, first rule first.
    for sentence in sentences:
        if _INVITING.search(sentence):
            got = _classify_with(_TEXT_RULES, sentence)
            if got:
                return got
    for sentence in sentences:
        got = _classify_with(_TEXT_RULES, sentence)
        if got:
            return got
    return None


# --------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------

_WS_RE = re.compile(r"[ \t\f\v\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000]+")
_ANY_WS_RE = re.compile(r"\s+")
_ABBREV = frozenset(
    "a.m p.m e.g i.e etc no nos nr dr mr mrs ms prof st vol para paras art fig cf al approx ca incl inc "
    "ltd co u.s u.k u.n vs viz ref doc docs ed eds rev corr add ch chap sec pp op".split()
)
_MONTH_ABBREV = frozenset("jan feb mar apr jun jul aug sep sept oct nov dec".split())
_SENT_END_RE = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*\s+")
_LAST_TOKEN_RE = re.compile(r"[A-Za-z.]{1,12}$")


def _collapse(s: str) -> str:
    return _ANY_WS_RE.sub(" ", s).strip()


_LIST_ITEM_MAX = 150
_LIST_MAX_ITEMS = 12


def _split_blocks(text: str) -> list[str]:
    """Paragraph-ish blocks. A blank line separates, and so does a single newline unless the line
    runs on. Short lines after one ending with ":" are items of a list ("Deadlines:" / "Experts:
    10 January 2025" / "Nominators: 24 January 2025") and stay in its block, joined with "; ", so
    that the heading's cue reaches them."""
    text = _WS_RE.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    blocks: list[str] = []
    cur: list[str] = []
    items = -1      # >= 0 while in a list introduced by a line ending with ":"
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            if cur and items < 0:
                blocks.append(" ".join(cur))
                cur = []
            continue
        if items >= 0 and cur and len(line) <= _LIST_ITEM_MAX and items < _LIST_MAX_ITEMS:
            if not cur[-1].endswith((":", ";")):
                cur[-1] += ";"
            cur.append(line)
            items += 1
            if line.endswith(":"):
                items = 0
            continue
        if cur:
            prev = cur[-1]
            starts_item = line[0].isupper() or line[0] in "*-\u2013\u2022"
            runs_on = prev[-1] in ":,;(-\u2013\u2014/&" or not starts_item
            if items >= 0 or not runs_on:
                blocks.append(" ".join(cur))
                cur = []
        cur.append(line)
        items = 0 if line.endswith(":") and len(line) <= _LIST_ITEM_MAX else -1
    if cur:
        blocks.append(" ".join(cur))
    return blocks


def _split_sentences(text: str) -> list[str]:
    out: list[str] = []
    for block in _split_blocks(text):
        start = 0
        for m in _SENT_END_RE.finditer(block):
            punct = m.group()
            if punct.startswith(".."):
                continue    # an ellipsis marks a cut, not the end of a sentence
            if punct[0] == ".":
                tok = _LAST_TOKEN_RE.search(block, max(0, m.start() - 12), m.start())
                word = tok.group().lower().lstrip(".") if tok else ""
                nxt = block[m.end():m.end() + 1]
                if word in _ABBREV or (len(word) == 1 and word.isalpha()):
                    continue
                if word in _MONTH_ABBREV and nxt.isdigit():
                    continue
            out.append(block[start:m.end()].strip())
            start = m.end()
        tail = block[start:].strip()
        if tail:
            out.append(tail)
    return [s for s in out if s]


# --------------------------------------------------------------------------------------------
# Dates, times and zones
# --------------------------------------------------------------------------------------------

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9,
    "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}
_MON = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
        r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![a-z])\.?")
_WEEKDAY = r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s+)"
_DATE_RE = re.compile(
    # "Friday, 15th of March 2024", "6 Sep 2024", "10-Jan-2025"
    rf"(?<![\d/.:])(?:{_WEEKDAY})?(?:the\s+)?(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?[\s-]{{1,3}}"
    rf"(?P<m1>{_MON})(?:,?[\s-]{{1,3}}(?P<y1>\d{{4}})(?!\d))?"
    # "Friday, March 15, 2024", "January 10"
    rf"|(?:{_WEEKDAY})?(?<![a-z])(?P<m2>{_MON})\s{{1,3}}(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?(?![\d:])"
    rf"(?:,?\s{{1,3}}(?P<y2>\d{{4}})(?!\d))?"
    # ISO "2023-02-19"
    r"|(?<![\d/.\-])(?P<y3>\d{4})-(?P<m3>\d{1,2})-(?P<d3>\d{1,2})(?![\d\-])"
    # European numeric "10.07.2020", "10/07/2020"
    r"|(?<![\d/.\-])(?P<d4>\d{1,2})(?P<s4>[./])(?P<m4>\d{1,2})(?P=s4)(?P<y4>\d{4})(?![\d.]\d)"
    # "(by) the end of June 2024"
    rf"|\bend\s+of\s+(?P<m5>{_MON})\s{{1,3}}(?P<y5>\d{{4}})(?!\d)",
    _I,
)

_TIME_CORE = (
    r"(?:(?P<h1>\d{1,2})(?:[:.h](?P<n1>\d{2}))?\s?(?P<ap>a\.?\s?m\b\.?|p\.?\s?m\b\.?)"
    r"|(?P<h2>\d{1,2})[:h](?P<n2>\d{2})(?![\d:])(?:\s?(?:hrs?|hours|h)\b\.?)?"
    r"|(?P<h3>\d{1,2})\.(?P<n3>\d{2})(?![\d.])(?:\s?(?:hrs?|hours|h)\b\.?)?"
    r"|(?:12(?::00)?\s?)?(?P<mid>midnight|midday|noon))"
)
# Long names match in any case; abbreviations only in capitals ("CAT", "EAT" and "WEST" are words too).
_ZONES: tuple[tuple[str, str], ...] = (
    (r"central\s+european\s+(?:summer\s+|standard\s+)?time|(?:bonn|berlin|german)\s+time|(?-i:CES?T|MES?Z)",
     "Europe/Berlin"),
    (r"paris\s+time", "Europe/Paris"),
    (r"brussels\s+time", "Europe/Brussels"),
    (r"geneva\s+time", "Europe/Zurich"),
    (r"greenwich\s+mean\s+time|coordinated\s+universal\s+time|universal\s+time|(?-i:GMT|UTC|Z)", "UTC"),
    (r"british\s+summer\s+time|london\s+time|uk\s+time|(?-i:BST)", "Europe/London"),
    (r"eastern\s+european\s+(?:summer\s+)?time|(?-i:EES?T)", "Europe/Athens"),
    (r"western\s+european\s+(?:summer\s+)?time|(?-i:WES?T)", "Europe/Lisbon"),
    (r"eastern\s+(?:standard\s+|daylight\s+)?time|new\s+york\s+time|(?-i:E[SD]T)", "America/New_York"),
    (r"central\s+(?:standard\s+|daylight\s+)?time|(?-i:C[SD]T)", "America/Chicago"),
    (r"mountain\s+(?:standard\s+|daylight\s+)?time|(?-i:M[SD]T)", "America/Denver"),
    (r"pacific\s+(?:standard\s+|daylight\s+)?time|(?-i:P[SD]T)", "America/Los_Angeles"),
    (r"east\s+african?\s+time|nairobi\s+time|(?-i:EAT)", "Africa/Nairobi"),
    (r"west\s+african?\s+time|(?-i:WAT)", "Africa/Lagos"),
    (r"south\s+african?\s+standard\s+time|(?-i:SAST)", "Africa/Johannesburg"),
    (r"central\s+african?\s+time|(?-i:CAT)", "Africa/Maputo"),
    (r"indian?\s+standard\s+time|(?-i:IST)", "Asia/Kolkata"),
    (r"japan\s+standard\s+time|(?-i:JST)", "Asia/Tokyo"),
    (r"korea\s+standard\s+time|(?-i:KST)", "Asia/Seoul"),
    (r"china\s+standard\s+time|beijing\s+time", "Asia/Shanghai"),
    (r"singapore\s+time|(?-i:SGT)", "Asia/Singapore"),
    (r"(?-i:AES?T|AEDT)", "Australia/Sydney"),
    (r"(?-i:NZS?T|NZDT)", "Pacific/Auckland"),
    (r"bras[ií]lia\s+time|(?-i:BRT)", "America/Sao_Paulo"),
)
_ZONE_ALT = "|".join(f"(?P<z{i}>{p})" for i, (p, _) in enumerate(_ZONES))
_OFFSET = r"(?P<off>(?-i:GMT|UTC)\s?(?P<osign>[+\-\u2212])\s?(?P<oh>\d{1,2})(?::?(?P<om>\d{2}))?)"
_ZONE = rf"(?:{_OFFSET}|(?:{_ZONE_ALT})(?![A-Za-z]))"
_TIME_AFTER_RE = re.compile(
    rf"^[\s,;(]{{0,4}}(?:(?:at|by|until|before)\s+)?{_TIME_CORE}(?:\s{{0,2}}\(?\s?{_ZONE}\)?)?", _I)
_TIME_BEFORE_RE = re.compile(
    rf"{_TIME_CORE}(?:\s{{0,2}}\(?\s?{_ZONE}\)?)?\s{{0,2}}\)?\s?,?\s?(?:on\s+)?(?:the\s+)?$", _I)
_ZONE_AFTER_RE = re.compile(rf"^\s{{0,2}}\(?\s?{_ZONE}\)?", _I)


def _zone(m: re.Match) -> str | None:
    if m.group("off"):
        hours = int(m.group("oh"))
        minutes = int(m.group("om") or 0)
        if hours == 0 and minutes == 0:
            return "UTC"
        if minutes or hours > 14:
            return None
        # IANA's Etc/GMT zones have the POSIX sign: UTC+2 is Etc/GMT-2.
        return f"Etc/GMT{'-' if m.group('osign') == '+' else '+'}{hours}"
    for i, (_p, name) in enumerate(_ZONES):
        if m.group(f"z{i}"):
            return name
    return None


def _time(m: re.Match) -> dt.time | None:
    if m.group("mid"):
        word = m.group("mid").lower()
        # A deadline "at midnight" means the end of that day.
        return dt.time(23, 59) if word == "midnight" else dt.time(12, 0)
    for h, n in (("h1", "n1"), ("h2", "n2"), ("h3", "n3")):
        if m.group(h):
            hour, minute = int(m.group(h)), int(m.group(n) or 0)
            break
    else:
        return None
    ap = (m.group("ap") or "").lower()
    if ap:
        if not 1 <= hour <= 12:
            return None
        if ap.startswith("p") and hour != 12:
            hour += 12
        elif ap.startswith("a") and hour == 12:
            hour = 0
    if hour == 24 and minute == 0:
        return dt.time(23, 59)
    if hour > 23 or minute > 59:
        return None
    return dt.time(hour, minute)


@dataclass
class _Date:
    year: int | None
    month: int
    day: int
    start: int
    end: int
    range_start: int | None = None     # where "from X to" starts when this date closes a range
    opens_range: bool = False          # this date is the first end of a range


def _valid(year: int | None, month: int, day: int) -> bool:
    if not 1 <= month <= 12 or day < 1:
        return False
    if year is None:
        return day <= calendar.monthrange(2024, month)[1]
    if not 1990 <= year <= 2100:
        return False
    return day <= calendar.monthrange(year, month)[1]


def _month(tok: str) -> int | None:
    word = tok.rstrip(".").lower()
    return _MONTHS.get(word)


def _find_dates(s: str) -> list[_Date]:
    out: list[_Date] = []
    for m in _DATE_RE.finditer(s):
        g = m.group
        if g("m1"):
            mon_tok, year, day = g("m1"), g("y1"), int(g("d1"))
        elif g("m2"):
            mon_tok, year, day = g("m2"), g("y2"), int(g("d2"))
        elif g("y3"):
            mon_tok, year, day = None, g("y3"), int(g("d3"))
        elif g("y4"):
            a, b = int(g("d4")), int(g("m4"))
            if b > 12 >= a:
                a, b = b, a   # month-first, unambiguously
            mon_tok, year, day = None, g("y4"), a
            month = b
        else:
            mon_tok, year = g("m5"), g("y5")
            day = -1
        if mon_tok is not None:
            bare = mon_tok.rstrip(".")
            # "may" and "march" in lower case are verbs far more often than months.
            if bare in ("may", "march", "mar"):
                continue
            month = _month(mon_tok)
        elif g("y3"):
            month = int(g("m3"))
        if month is None:
            continue
        y = int(year) if year else None
        if day == -1 and y is not None and 1 <= month <= 12:
            day = calendar.monthrange(y, month)[1] if 1990 <= y <= 2100 else 0
        if not _valid(y, month, day):
            continue
        out.append(_Date(y, month, day, m.start(), m.end()))
        if len(out) >= MAX_DATES:
            break
    return out


# --------------------------------------------------------------------------------------------
# Deadline cues and labels
# --------------------------------------------------------------------------------------------

# Cues that sit right before the date ("by", "no later than", "closes on", "deadline is").
_NEAR_CUE_RE = re.compile(
    r"\b(?:by|before|until|till|untill|no\s+later\s+than|not\s+later\s+than|latest|prior\s+to|due|deadlines?|"
    r"closes|close|closing|closed|ends|ending|expires?|expiring|cut-?off|extended|respond|reply)\b",
    _I,
)
# "organised by", "approved by": a "by" that names an agent, not a time.
_AGENT_BY_RE = re.compile(
    r"\b(?:organi[sz]ed|hosted|chaired|convened|led|adopted|approved|published|endorsed|supported|funded|"
    r"signed|"
    r"written|held|prepared|coordinated|facilitated|sponsored|co-?organi[sz]ed|presented|moderated|requested|"
    r"established|nominated|selected|elected|made|issued|sent|decided|followed|accompanied)\s+by\s*$",
    _I,
)
# What may stand between "by" and the date it governs: "by midnight (CET) on the".
_BY_FILLER_RE = re.compile(
    rf"\s{{0,3}}(?:the\s+)?(?:(?:{_TIME_CORE})\s?(?:\(?[A-Za-z ]{{2,40}}\)?\s?)?,?\s?(?:on\s+)?(?:the\s+)?)?",
    _I,
)
# Cues that may stand further back in the sentence ("The deadline for the call is: …").
_FAR_CUE_RE = re.compile(
    r"\b(?:deadlines?|closing\s+date|due\s+date|cut-?off\s+date|no\s+later\s+than|not\s+later\s+than|closes|"
    r"submit\w*\s+(?:\w+\s+){0,6}?by)\b",
    _I,
)
# Between the cue and the date these mean the date is when something happens, not a deadline.
_ANTI_RE = re.compile(
    r"\b(?:held|hold|holds|take\s+place|takes\s+place|taking\s+place|took\s+place|will\s+meet|meets|"
    r"scheduled|"
    r"convened?|dated|issued|published|launch(?:ed|es)?|released|approved|adopted|informed|notified|"
    r"starts?|starting|began|begins?|beginning|opens|opened|opening|announced|sent|posted|circulated|decided|"
    r"agreed|signed)\b|\b(?:notifications?|letter|note|e-?mail|message)\s+(?:\w+\s+){0,2}?(?:of|dated)\s*$",
    _I,
)
# A clause saying that the secretariat, not the reader, does something then.
_PASSIVE_ANTI_RE = re.compile(
    r"\bwill\s+be\s+(?:informed|notified|selected|announced|published|posted|made\s+available|held|launched|"
    r"released|considered|circulated|sent|contacted|convened|elected|approved)\b|"
    r"\b(?:is|are)\s+expected\s+to\s+be\s+(?:published|released|held|launched)\b",
    _I,
)
_RANGE_GAP_RE = re.compile(
    r"\s{0,3}(?:-|\u2010|\u2011|\u2012|\u2013|\u2014|to|until|till|through|and)\s{0,3}", _I)
_DAY_RANGE_RE = re.compile(
    r"(?:\b(?:from|between)\s+)?\b\d{1,2}(?:st|nd|rd|th)?\s{0,3}"
    r"(?:-|\u2013|\u2014|to|until|till|and)\s{0,3}$",
    _I,
)
_OPEN_CUE_RE = re.compile(
    r"\b(?:open|opens|opened|period|accept\w*|running|runs|call|window|availab\w*|review\w*|consultation|"
    r"submi\w*|nominat\w*|applica\w*|apply|registration|register|comments?|deadlines?)\b",
    _I,
)
_EVENT_RANGE_ANTI_RE = re.compile(
    r"\b(?:held|hold|take\s+place|takes\s+place|taking\s+place|took\s+place|meet|meets|meeting|session|"
    r"workshop|"
    r"webinar|dialogue|conference|forum|visit|mission|scheduled|convened?|plenary|ipbes[\s-]?\d{1,2}|"
    r"save\s+the\s+date|event)\b",
    _I,
)
# "… 28 February 2025 at the latest"
_AFTER_CUE_RE = re.compile(r"[\s,(]{0,3}(?:\([^)]{0,30}\)\s?)?(?:at\s+the\s+(?:very\s+)?latest|latest)\b", _I)
_AFTER_LABEL_RE = re.compile(r"[^;.]*")
_CHAIN_GAP_RE = re.compile(r"\b(?:and|or)\b|[,;]", _I)
_SUPERSEDED_AFTER_RE = re.compile(
    r"[^.]{0,60}?\b(?:(?:has|have|is|was|were|had)\s+been\s+extended|(?:is|was|were)\s+extended|"
    r"extended\s+(?:to|until))\b",
    _I,
)
_SUPERSEDED_BEFORE_RE = re.compile(
    r"\b(?:original|previous|initial|former|old|earlier)\s+(?:deadlines?|closing\s+date|dates?)\b[^.]{0,25}$",
    _I,
)

_LABELS: tuple[tuple[str, re.Pattern], ...] = (
    ("nomination", _r(r"\bnominat\w*|\bendors\w*")),
    ("application", _r(r"\bappl(?:y|ies|ied|ying|ications?|icants?)\b|\b(?:experts|candidates)\s?:")),
    ("comments", _r(r"\bcomments?\b|\bcommenting\b|\breview\w*(?!\s+panel)|\bfeedback\b")),
    ("offers", _r(r"\boffers?\b")),
    ("inputs", _r(r"\binputs?\b|\bsuggestions?\b|\bviews\b|\bcontributions?\b|\brequests?\b|"
                  r"\bquestionnaires?\b|\bsurveys?\b|\bcase\s+stud(?:y|ies)\b")),
    ("registration", _r(r"\bregist(?:er|ers|ered|ering|ration)\b")),
)
_NOMINATOR_RE = _r(r"\bnominators?\b|\bnominating\s+(?:governments?|organi[sz]ations?)\b|\bapprov\w*")
_GENERIC_LABELS: tuple[tuple[str, re.Pattern], ...] = (
    ("closing", _r(r"\bclos\w*|\bends?\b|\bending\b|\bperiod\b")),
    ("submission", _r(r"\bsubmi\w*")),
)


def _label(clause: str, *, first: bool = False) -> str | None:
    """The most specific label named in ``clause``: the one nearest to its end (the date), or with
    ``first`` the one nearest to its start (for the words that follow a date)."""
    best: tuple[int, str] | None = None
    for name, rx in _LABELS:
        hit = None
        for m in rx.finditer(clause):
            hit = m
            if first:
                break
        if hit is None:
            continue
        pos = -hit.start() if first else hit.end()
        if best is None or pos > best[0]:
            best = (pos, name)
    if best:
        name = best[1]
        if name == "application" and not first and _NOMINATOR_RE.search(clause):
            return "nomination"     # "Nominators should approve the applications by …"
        return name
    return None


def _generic_label(clause: str) -> str:
    best: tuple[int, str] | None = None
    for name, rx in _GENERIC_LABELS:
        for m in rx.finditer(clause):
            if best is None or m.end() > best[0]:
                best = (m.end(), name)
    return best[1] if best else "deadline"


# --------------------------------------------------------------------------------------------
# Deadlines
# --------------------------------------------------------------------------------------------


@dataclass
class _Candidate:
    date: _Date
    sentence: str
    source: str
    order: int
    deadline: bool = False
    label: str = "deadline"
    time: dt.time | None = None
    tz: str | None = None


# A range in a title with one of these is a session or an event, not an open call.
_TITLE_EVENT_RE = _r(
    r"\bsession\b", r"\bplenary\b", r"\bworkshops?\b", r"\bwebinars?\b", r"\bdialogues?\b",
    r"\bconferences?\b", r"\bforums?\b", r"\bmeetings?\b", r"\bsave\s+the\s+date\b",
    r"\bipbes[\s-]?\d{1,2}\b(?![/\d])", r"\bheld\b", r"\bevents?\b", r"\blaunch\b",
)


def _is_deadline_near(s: str, d: _Date, prev_end: int) -> bool:
    lo = max(prev_end, d.start - 60)
    window = s[lo:d.start]
    cue = None
    for m in _NEAR_CUE_RE.finditer(window):
        # "approved by 13 June" is a time; "organized by UNEP on 5 March" names an agent.
        if (m.group().lower() == "by" and _AGENT_BY_RE.search(window[:m.end()])
                and not _BY_FILLER_RE.fullmatch(window[m.end():])):
            continue
        cue = m
    if cue is None:
        return False
    if _ANTI_RE.search(window[cue.end():]):
        return False
    clause = s[max(prev_end, d.start - 200):lo + cue.start()]
    return not _PASSIVE_ANTI_RE.search(clause)


def _is_deadline_far(s: str, d: _Date, prev_end: int) -> bool:
    lo = max(prev_end, d.start - 300)
    window = s[lo:d.start]
    cue = None
    for m in _FAR_CUE_RE.finditer(window):
        cue = m
    if cue is None:
        return False
    between = window[cue.end():]
    return not _ANTI_RE.search(between) and not _PASSIVE_ANTI_RE.search(between)


def _sentence_text(s: str, d: _Date) -> str:
    if len(s) <= 500:
        return s
    lo = max(0, min(d.start - 250, len(s) - 500))
    return s[lo:lo + 500].strip()


def _attach_time(s: str, d: _Date, next_start: int, prev_end: int) -> tuple[dt.time | None, str | None]:
    after = s[d.end:min(next_start, d.end + 70)]
    m = _TIME_AFTER_RE.search(after)
    if m:
        t = _time(m)
        if t is not None:
            return t, _zone(m)
    before = s[max(prev_end, d.start - 60):d.start]
    # a leading weekday or "the" is already part of the date match
    m = _TIME_BEFORE_RE.search(before)
    if m:
        t = _time(m)
        if t is not None:
            return t, _zone(m)
    m = _ZONE_AFTER_RE.search(after)
    if m:
        return None, _zone(m)
    return None, None


_BETWEEN_RE = re.compile(r"\bbetween\s+(?:the\s+)?$", _I)


def _mark_ranges(s: str, dates: list[_Date]) -> None:
    """Ranges: "from 24 July to 17 September 2024", "(6 Sep 2024 - 24 Jan 2025)", "1-15 March 2024"."""
    for i, d in enumerate(dates):
        prev = dates[i - 1] if i else None
        if prev is not None and prev.range_start is None and not prev.opens_range:
            m = _RANGE_GAP_RE.fullmatch(s, prev.end, d.start)
            if m and (m.group().strip().lower() != "and"
                      or _BETWEEN_RE.search(s, max(0, prev.start - 12), prev.start)):
                prev.opens_range = True
                d.range_start = prev.start
                continue
        m = _DAY_RANGE_RE.search(s, max(prev.end if prev else 0, d.start - 24), d.start)
        if m and (not m.group().strip().lower().endswith("and") or m.group().lower().startswith("between")):
            d.range_start = m.start()


def _range_is_open(s: str, start: int, whole_title: bool) -> bool:
    """Whether a range closes an open period (a call, a review) rather than spans a session or event."""
    if whole_title:
        if _NEAR_CUE_RE.search(s, max(0, start - 40), start):
            return True
        return not _TITLE_EVENT_RE.search(s) and bool(_CALL.search(s) or _OPEN_CUE_RE.search(s))
    # In the text the nearer word decides: "registration … will be open from" vs "to be held from".
    lo = max(0, start - _LOOKBACK)
    opened = _last_end(_OPEN_CUE_RE, s, lo, start)
    event = _last_end(_EVENT_RANGE_ANTI_RE, s, lo, start)
    return opened > event


def _last_end(rx: re.Pattern, s: str, lo: int, hi: int) -> int:
    """End of the last match of ``rx`` in ``s[lo:hi]``, or -1."""
    end = -1
    for m in rx.finditer(s, lo, hi):
        end = m.end()
    return end


def _sentence_candidates(s: str, source: str, order: int, whole_title: bool) -> list[_Candidate]:
    """Every date in one sentence (or the title), each marked deadline or not, with its label."""
    dates = _find_dates(s)
    _mark_ranges(s, dates)
    cands: list[_Candidate] = []
    prev_cand: _Candidate | None = None
    for i, d in enumerate(dates):
        prev_end = dates[i - 1].end if i else 0
        next_start = dates[i + 1].start if i + 1 < len(dates) else len(s)
        # the title is one short clause; in the text a label is looked for since the previous date
        clause_lo = 0 if whole_title else prev_end
        c = _Candidate(d, s, source, order)
        cands.append(c)
        if d.opens_range:
            pass    # the start of a range is never the deadline
        elif d.range_start is not None:
            c.deadline = _range_is_open(s, d.range_start, whole_title)
            if not whole_title and i and dates[i - 1].opens_range:
                clause_lo = dates[i - 2].end if i >= 2 else 0
            c.label = _label(s[max(clause_lo, d.range_start - _LOOKBACK):d.range_start]) or "closing"
        elif (_is_deadline_near(s, d, prev_end) or _is_deadline_far(s, d, prev_end)
              or _AFTER_CUE_RE.match(s, d.end)):
            c.deadline = True
            clause = s[max(clause_lo, d.start - _LOOKBACK):d.start]
            # "Experts have until 14 February 2025 to apply"
            after = _label(_AFTER_LABEL_RE.match(s, d.end, min(next_start, d.end + 60)).group(), first=True)
            wider = _label(s[max(0, d.start - _LOOKBACK):d.start]) if prev_end else None
            c.label = _label(clause) or after or wider or _generic_label(clause)
        elif (prev_cand is not None and prev_cand.deadline and dates[i - 1].range_start is None
              and d.start - prev_end <= 100):
            gap = s[prev_end:d.start]
            if _CHAIN_GAP_RE.search(gap) and not _ANTI_RE.search(gap) and not _PASSIVE_ANTI_RE.search(gap):
                # "29 June for the chapters and 9 July for the SPM"
                c.deadline = True
                c.label = _label(gap) or prev_cand.label
        if c.deadline and (
                # "the deadline of 10 January has been extended to 24 January": the old date goes
                (_SUPERSEDED_AFTER_RE.match(s, d.end) and any(x.start > d.end for x in dates[i + 1:]))
                or _SUPERSEDED_BEFORE_RE.search(s, max(0, d.start - 60), d.start)):
            c.deadline = False
        if c.deadline:
            c.time, c.tz = _attach_time(s, d, next_start, prev_end)
        prev_cand = c
    return cands


def _resolve_years(cands: list[_Candidate], published: dt.date | None) -> None:
    """Give every year-less date a year: from a dated date in its sentence, then a dated deadline
    nearby, then the publication date (next occurrence on/after it), then any dated date."""

    def from_following(c: _Candidate, a: _Candidate) -> int:
        return a.date.year if (c.date.month, c.date.day) <= (a.date.month, a.date.day) else a.date.year - 1

    def from_preceding(c: _Candidate, a: _Candidate) -> int:
        return a.date.year if (c.date.month, c.date.day) >= (a.date.month, a.date.day) else a.date.year + 1

    dated = [(i, c) for i, c in enumerate(cands) if c.date.year is not None]
    for i, c in enumerate(cands):
        if c.date.year is not None or not c.deadline:
            continue
        year = None
        same = [a for j, a in dated if a.order == c.order and a.sentence is c.sentence]
        follow = [a for a in same if a.date.start > c.date.start]
        if follow:
            year = from_following(c, follow[0])
        elif same:
            year = from_preceding(c, same[-1])
        if year is None:
            follow = [a for j, a in dated if j > i and a.deadline]
            precede = [a for j, a in dated if j < i and a.deadline]
            if follow:
                year = from_following(c, follow[0])
            elif precede:
                year = from_preceding(c, precede[-1])
        if year is None and published is not None:
            year = published.year
            if (c.date.month, c.date.day) < (published.month, published.day):
                year += 1
        if year is None:
            follow = [a for j, a in dated if j > i]
            precede = [a for j, a in dated if j < i]
            if follow:
                year = from_following(c, follow[0])
            elif precede:
                year = from_preceding(c, precede[-1])
        if year is not None and _valid(year, c.date.month, c.date.day):
            c.date.year = year


def _as_date(published) -> dt.date | None:
    if isinstance(published, dt.datetime):
        return published.date()
    if isinstance(published, dt.date):
        return published
    if isinstance(published, str) and published.strip():
        try:
            return dt.date.fromisoformat(published.strip()[:10])
        except ValueError:
            return None
    return None


_GENERIC = ("deadline", "closing", "submission")


def extract_deadlines(title: str, text: str, published: dt.date | None) -> list[ExtractedDeadline]:
    """Deadlines stated in the title and the text, sorted by date (see the module docstring)."""
    title = _collapse(title[:MAX_TITLE]) if isinstance(title, str) else ""
    text = text[:MAX_TEXT] if isinstance(text, str) else ""
    published = _as_date(published)

    cands: list[_Candidate] = []
    if title:
        cands += _sentence_candidates(title, "title", 0, whole_title=True)
    for n, sentence in enumerate(_split_sentences(text), start=1):
        if len(cands) >= MAX_DATES:
            break
        cands += _sentence_candidates(sentence, "text", n, whole_title=False)
    _resolve_years(cands, published)

    found: list[ExtractedDeadline] = []
    for c in cands:
        if not c.deadline or c.date.year is None:
            continue
        try:
            day = dt.date(c.date.year, c.date.month, c.date.day)
        except ValueError:
            continue
        text_of = _sentence_text(c.sentence, c.date)
        found.append(ExtractedDeadline(day, c.label, text_of, c.time, c.tz, c.source))
    return _merge(found)


def _merge(found: list[ExtractedDeadline]) -> list[ExtractedDeadline]:
    """One deadline per date and label; the text's wins over the title's, a specific label over a
    generic one, and a kept deadline inherits a stated time/zone from a dropped duplicate."""
    by_date: dict[dt.date, list[ExtractedDeadline]] = {}
    for d in found:
        by_date.setdefault(d.date, []).append(d)
    out: list[ExtractedDeadline] = []
    for items in by_date.values():
        specific = [d for d in items if d.label not in _GENERIC]
        pool = specific or items
        text_pool = [d for d in pool if d.source == "text"]
        pool = text_pool or pool
        kept: dict[str, ExtractedDeadline] = {}
        for d in pool:
            kept.setdefault(d.label, d)
        timed = next((d for d in items if d.time is not None), None)
        zoned = next((d for d in items if d.tz is not None), None)
        for d in kept.values():
            if d.time is None and timed is not None:
                d = replace(d, time=timed.time, tz=d.tz or timed.tz)
            if d.tz is None and zoned is not None and (d.time is None or d.time == zoned.time):
                d = replace(d, tz=zoned.tz)
            out.append(d)
    out.sort(key=lambda d: (d.date, d.label))
    return out


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def extract(title: str, text: str, published: dt.date | None) -> Extraction:
    """Read one notification. Never raises on odd input; ``text`` is plain text."""
    title = title if isinstance(title, str) else ""
    text = text if isinstance(text, str) else ""
    title_c = _collapse(title[:MAX_TITLE])
    head = text[:MAX_TEXT]
    reference, related = _references(title_c, head)
    kind, rule = classify(title_c, head)
    return Extraction(
        reference=reference,
        is_reminder=_is_reminder(title_c, _collapse(head[:4000])),
        related_references=related,
        kind=kind,
        kind_rule=rule,
        deadlines=extract_deadlines(title_c, head, published),
    )


def national_deadline(secretariat_deadlines: list[dt.date], working_days: int,
                      holidays: frozenset[dt.date] = frozenset()) -> dt.date | None:
    """`working_days` working days (Mon–Fri, not in holidays) before the EARLIEST date; None when the list
    is empty. Zero (or a negative number) gives the earliest date itself."""
    dates = [d.date() if isinstance(d, dt.datetime) else d
             for d in secretariat_deadlines or () if d is not None]
    if not dates:
        return None
    holidays = holidays or frozenset()
    day = min(dates)
    remaining = max(0, min(int(working_days or 0), 10_000))
    while remaining:
        day -= dt.timedelta(days=1)
        if day.weekday() < 5 and day not in holidays:
            remaining -= 1
    return day
