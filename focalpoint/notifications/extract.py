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
#: At most this many dates are considered per notification.
MAX_DATES = 400


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
    rf"(?<![A-Za-z0-9])(?P<p>EM|LE)[ \t]*/[ \t]*(?P<y>(?:19|20)\d\d)(?P<s>{_SEP})(?P<n>\d{{1,3}})(?![0-9])",
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
    r"reminder|remind|see|cf|(?:previous|earlier|original|prior|above|last)\s+notifications?|"
    r"(?:my|our|its)\s+notifications?|(?:in|by|under|through)\s+(?:the\s+)?notifications?|"
    r"(?:extension|extends?|extended|amend(?:s|ing|ment)?)\s+(?:of|to)?|(?:as\s+a\s+)?follow-?up\s+(?:to|of|on)|"
    r"in\s+the\s+context\s+of|subsequent\s+to|complement(?:s|ing)?|building\s+on)\b",
    _I,
)
# "Our Ref: EM/2016/22", "Ref.: …", "Reference: …", "Reference number …" directly before a reference.
_OWN_MARK_RE = re.compile(
    r"(?:\bour\s+ref(?:erence)?\b\.?\s*(?:no\.?|number|n°)?\s*[:#.]?|"
    r"\bref(?:erence)?\b\.?\s*(?:no\.?|number|n°)?\s*[:#]|\breference(?:\s+number)?)\s*$",
    _I,
)
#: A reference this close to the start of the text, with nothing citing before it, is the notice's own
#: (copies of the PDF start "8 September 2023 EM/2023/31 Notification: …").
_OWN_START_CHARS = 120


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
    text_refs = list(_iter_refs(text[:MAX_REF_SCAN]))
    cited = {_ref_key(r) for m, r in text_refs if _cited(text, m.start())}

    own = None
    # The title's reference is the notification's own. A reminder or extension usually carries its
    # own reference in the title too, so it stays own; only when the body explicitly cites that same
    # reference ("With reference to notification EM/2022/31 …") is the title quoting the original
    # call's reference, which then becomes a related reference and the item has no own reference
    # unless the text introduces one ("Our Ref: …").
    for _m, ref in title_refs:
        if _ref_key(ref) not in cited:
            own = ref
            break
    if own is None:
        for m, ref in text_refs:
            if _ref_key(ref) in cited:
                continue
            before = text[max(0, m.start() - 40):m.start()]
            at_start = m.start() <= _OWN_START_CHARS and not _CITE_RE.search(text[:m.start()])
            if _OWN_MARK_RE.search(before) or at_start:
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
    r"\b(?:closes|closing|ends|ending|expires)\s+(?:soon|today|tomorrow|this\s+week|next\s+week|in\s+\d{1,2}\s+days)\b|"
    r"\b(?:last|final)\s+(?:call|chance|reminder|days?)\b|\bdon'?t\s+miss\b|\bstill\s+open\b",
    _I,
)
# In the body only unambiguous phrasing counts: "this is a reminder", "the deadline has been extended".
_REMINDER_TEXT_RE = re.compile(
    r"\bthis\s+is\s+a\s+(?:friendly\s+|gentle\s+|kind\s+|last\s+|final\s+)?reminder\b|"
    r"\bremind\s+you\s+(?:of|about)\s+(?:the|my|our)\s+(?:notification|call|invitation)\b|"
    r"\bremind\s+you\s+that\s+the\s+deadline\b|"
    r"\b(?:deadlines?|call|period)\b[^.]{0,80}?\b(?:has|have)\s+been\s+extended\b|"
    r"\b(?:decided|pleased|agreed|wish|like)\s+to\s+extend\s+the\s+deadline\b|\bextension\s+of\s+the\s+deadline\b",
    _I,
)


def _is_reminder(title: str, text: str) -> bool:
    # "Now live" / "now open" announce the call itself, so they are not reminders.
    return bool(_REMINDER_TITLE_RE.search(title) or _REMINDER_TEXT_RE.search(text[:4000]))


# --------------------------------------------------------------------------------------------
# Kinds
# --------------------------------------------------------------------------------------------

_CALLISH = (r"(?:\bcall(?:s|ing)?\b|\bnominat\w*|\bapplica\w*|\bapply\b|\binvit\w*|\bseek\w*|\bjoin\b|"
            r"\brecruit\w*|\bexpressions?\s+of\s+interest\b|\bwanted\b|\bopportunit\w*|\bvacanc\w*|"
            r"\bcandida\w*|\bselection\s+of\b)")
_EXPERT_TERM = (r"(?:\bexperts?\b(?!\s*-?\s*review)(?!\s+panel)|\bco-?chairs?\b|\blead\s+authors?\b|"
                r"\bcontributing\s+authors?\b|\breview\s+editors?\b|\bauthors\b|\btask[\s-]+forces?\b|"
                r"\bexpert\s+groups?\b)")
_FELLOW_TERM = r"\bfellow(?:s|ship|ships)?\b"


@dataclass(frozen=True)
class _Rule:
    kind: str
    name: str
    pattern: re.Pattern
    also: re.Pattern | None = None      # must also match
    unless: re.Pattern | None = None    # must not match


def _r(p: str) -> re.Pattern:
    return re.compile(p, _I)


_OFFERS = _r(r"\boffers?\s+to\s+host\b|\bhost(?:ing)?\s+(?:the\s+|a\s+)?technical\s+support\s+units?\b|"
             r"\bcall\s+for\s+offers\b|\boffers?\b[^.]{0,60}?\btechnical\s+support\s+units?\b")
_OFFICIALS = _r(r"\bbureau\b|\bmultidisciplinary\s+expert\s+panel\b|(?-i:\bMEP\b)|\breview\s+panel\b|"
                r"\b(?:ipbes|platform)\s+chair\b|\bchair(?:person)?\s+of\s+(?:the\s+)?(?:ipbes|platform)\b|"
                r"\bexecutive\s+secretary\b|\bofficers\s+of\s+the\s+(?:platform|plenary)\b")
_OFFICIALS_CTX = _r(r"\bnominat\w*|\bcandida\w*|\belect\w*|\bcall\b|\bvacanc\w*|\bseats?\b|\bmembers?\b|"
                    r"\bcomposition\b|\bappoint\w*")
_RESULTS = _r(r"\bselected\s+(?:experts|fellows|candidates|authors)\b|\b(?:results?|outcomes?)\s+of\s+(?:the\s+)?"
              r"(?:call|selection|nominations?)\b|\bselection\s+results\b|\bannouncement\s+of\s+(?:the\s+)?selec\w+|"
              r"\bcongratulat\w+")
_FINANCE = _r(r"\b(?:financial|monetary|in-kind|cash)\s+contributions?\b|\btrust\s+fund\b|\bpledges?\b")
_FELLOW = _r(_FELLOW_TERM)
_EXPERT = _r(_EXPERT_TERM)
_CALL = _r(_CALLISH)
_EVENT = _r(r"\bwebinars?\b|\bworkshops?\b|\bdialogues?\b|\bseminars?\b|\bconferences?\b|\bsymposi(?:um|a)\b|"
            r"\bforums?\b|\bside[\s-]+events?\b|\blaunch\s+events?\b|\binformation\s+sessions?\b|"
            r"\binfo\s+sessions?\b|\bround[\s-]?tables?\b|\btraining\b|\bhackathons?\b|\bpanel\s+discussions?\b|"
            r"\bonline\s+event\b|\bevents?\b|\bmeetings?\b|\bwalk-?through\b")
_REVIEW = _r(r"\b(?:external|expert|government|governmental|peer|open|public)\s+reviews?\b|"
             r"\breview\s+(?:of\s+)?(?:the\s+)?(?:first|second|final|draft|revised)\b|"
             r"\b(?:first|second|final)[\s-]+order\s+drafts?\b|\bconsultative\s+process\b|"
             r"\bcall\s+for\s+(?:expert\s+)?reviewers\b|\bexpert\s+reviewers?\b|\breviewers?\b|"
             r"\bcomments?\s+(?:are\s+|is\s+)?invited\b|\binvitation\s+to\s+(?:comment|review)\b|\bcall\s+for\s+comments\b|"
             r"\b(?:comments?|commenting|feedback)\b[^.]{0,60}?\bdrafts?\b|\bdrafts?\b[^.]{0,60}?\b(?:comments?|review\w*)\b|"
             r"\bdraft\s+(?:summary\s+for\s+policymakers|scoping\s+reports?|chapters?)\b")
_PLENARY = _r(r"\bplenary\b|\bipbes[\s-]?\d{1,2}\b(?![/\d])|\bsessions?\s+of\s+(?:the\s+)?(?:ipbes|platform)\b|"
              r"\bsave[\s-]+the[\s-]+date\b|\bprovisional\s+agenda\b|\bcredentials\b|\bpre-?session\s+documents?\b|"
              r"\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|"
              r"fourteenth|fifteenth|\d{1,2}(?:st|nd|rd|th))\s+session\b")
_INPUTS = _r(r"\bcall\s+for\s+(?:further\s+)?(?:inputs?|submissions?|contributions?|views|suggestions|requests|"
             r"proposals|information|data|case\s+stud(?:y|ies)|examples|evidence|resources)\b|"
             r"\b(?:inputs?|submissions?|contributions?|views|suggestions|proposals)\b|\bquestionnaires?\b|"
             r"\bsurveys?\b|\brequests?\s+for\s+(?:inputs?|information|data)\b|\bconsultation\b")
_NOMINATIONS = _r(r"\bnominat\w*|\bcall\s+for\s+(?:applications|candidates)\b|\bexpressions?\s+of\s+interest\b")

_TITLE_RULES: tuple[_Rule, ...] = (
    _Rule("offers_call", "title: offers to host a technical support unit", _OFFERS),
    _Rule("other", "title: announcement of selection results", _RESULTS, unless=_r(r"\bcall\s+for\b")),
    _Rule("officials_call", "title: nominations for Bureau / MEP / review panel / Chair", _OFFICIALS,
          also=_OFFICIALS_CTX),
    # fellows vs experts is decided by which is named first (see _classify_with)
    _Rule("fellow_call", "title: call for nominations … fellows", _FELLOW, also=_CALL),
    _Rule("expert_call", "title: call for nominations … experts / authors / task force", _EXPERT, also=_CALL),
    _Rule("event", "title: webinar / workshop / dialogue / event", _EVENT),
    _Rule("review", "title: review of drafts / comments invited", _REVIEW),
    _Rule("plenary", "title: plenary session / save the date", _PLENARY),
    _Rule("other", "title: financial contributions", _FINANCE),
    _Rule("inputs_call", "title: call for inputs / submissions / contributions", _INPUTS),
    _Rule("expert_call", "title: call for nominations (experts by default)", _NOMINATIONS),
)

# In the body the same vocabulary is used, but only where the secretariat says what it invites.
_TEXT_RULES: tuple[_Rule, ...] = (
    _Rule("offers_call", "text: invites offers to host a technical support unit", _OFFERS),
    _Rule("officials_call", "text: nominations for Bureau / MEP / review panel",
          _r(r"\b(?:nominat\w*|candida\w*|elect\w*)\b[^.]{0,120}?(?:\bbureau\b|\bmultidisciplinary\s+expert\s+panel\b|"
             r"(?-i:\bMEP\b)|\breview\s+panel\b)|(?:\bbureau\b|\bmultidisciplinary\s+expert\s+panel\b|(?-i:\bMEP\b)|"
             r"\breview\s+panel\b)[^.]{0,120}?\b(?:nominat\w*|candida\w*|elect\w*)")),
    _Rule("fellow_call", "text: invites nominations of fellows",
          _r(r"\b(?:nominat\w*|appl(?:y|ication)\w*|candida\w*)\b[^.]{0,160}?" + _FELLOW_TERM + r"|"
             + _FELLOW_TERM + r"[^.]{0,160}?\b(?:nominat\w*|appl(?:y|ication)\w*|candida\w*)")),
    _Rule("expert_call", "text: invites nominations of experts",
          _r(r"\bnominat\w*[^.]{0,120}?" + _EXPERT_TERM + r"|" + _EXPERT_TERM + r"[^.]{0,120}?\bnominat\w*|"
             r"\bnominate\s+(?:candidates|authors|experts)\b")),
    _Rule("review", "text: invites comments on a draft",
          _r(r"\b(?:external|expert|government|governmental|peer)\s+review\b|\b(?:first|second|final)[\s-]+order\s+drafts?\b|"
             r"\bcomments?\b[^.]{0,80}?\bdrafts?\b|\breview\s+(?:of\s+)?the\s+(?:draft|first|second)\b|"
             r"\bexpert\s+reviewers?\b|\bconsultative\s+process\b")),
    _Rule("plenary", "text: session of the Plenary",
          _r(r"\bsession\s+of\s+the\s+(?:ipbes\s+)?plenary\b|\bplenary\s+session\b|\bsession\s+of\s+the\s+platform\b")),
    _Rule("event", "text: invites to a webinar / workshop / dialogue",
          _r(r"\b(?:webinars?|workshops?|dialogues?|seminars?|information\s+sessions?|side\s+events?)\b")),
    _Rule("inputs_call", "text: invites inputs / views / submissions",
          _r(r"\bsubmit\w*\s+(?:their\s+|your\s+|its\s+|any\s+)?(?:views|inputs?|contributions?|suggestions|requests|"
             r"proposals|information|case\s+stud(?:y|ies)|examples)\b|\bquestionnaire\b|\bsurvey\b|"
             r"\bcall\s+for\s+(?:inputs?|submissions?|contributions?)\b|\b(?:inputs?|views|suggestions)\s+(?:on|to|regarding)\b")),
)

_INVITING = _r(r"\binvit\w*|\bencourag\w*|\brequest\w*|\bpleased\b|\bplease\b|\bcall\b|\bwelcome\w*|\bseek\w*")


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


def classify(title: str, text: str) -> tuple[str, str]:
    """The notification's kind and the name of the rule that decided; the title decides first."""
    title = (title or "")[:MAX_TITLE] if isinstance(title, str) else ""
    text = (text or "")[:MAX_TEXT] if isinstance(text, str) else ""
    got = _classify_with(_TITLE_RULES, _collapse(title))
    if got:
        return got
    head = _collapse(text[:6000])
    sentences = _split_sentences(head)
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
    return "other", "default: no rule matched"


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


def _split_blocks(text: str) -> list[str]:
    """Paragraph-ish blocks: blank lines separate; a single newline separates unless the line runs on."""
    text = _WS_RE.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    blocks: list[str] = []
    cur: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            if cur:
                blocks.append(" ".join(cur))
                cur = []
            continue
        if cur:
            prev = cur[-1]
            runs_on = prev[-1] in ":,;(-\u2013\u2014/&" or not (line[0].isupper() or line[0] in "•*-\u2013\u2022")
            if not runs_on:
                blocks.append(" ".join(cur))
                cur = []
        cur.append(line)
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
    r"|(?P<mid>midnight|midday|noon))"
)
_ZONES: tuple[tuple[str, str], ...] = (
    (r"(?i:central\s+european\s+(?:summer\s+|standard\s+)?time)|CES?T|MES?Z|(?i:(?:bonn|berlin|german)\s+time)",
     "Europe/Berlin"),
    (r"(?i:paris\s+time)", "Europe/Paris"),
    (r"(?i:brussels\s+time)", "Europe/Brussels"),
    (r"(?i:geneva\s+time)", "Europe/Zurich"),
    (r"(?i:greenwich\s+mean\s+time|coordinated\s+universal\s+time|universal\s+time)|GMT|UTC|Z(?![A-Za-z])", "UTC"),
    (r"(?i:british\s+summer\s+time|london\s+time|uk\s+time)|BST", "Europe/London"),
    (r"(?i:eastern\s+european\s+(?:summer\s+)?time)|EES?T", "Europe/Athens"),
    (r"(?i:western\s+european\s+(?:summer\s+)?time)|WES?T", "Europe/Lisbon"),
    (r"(?i:eastern\s+(?:standard\s+|daylight\s+)?time|new\s+york\s+time)|E[SD]T", "America/New_York"),
    (r"(?i:central\s+(?:standard\s+|daylight\s+)?time)|C[SD]T", "America/Chicago"),
    (r"(?i:mountain\s+(?:standard\s+|daylight\s+)?time)|M[SD]T", "America/Denver"),
    (r"(?i:pacific\s+(?:standard\s+|daylight\s+)?time)|P[SD]T", "America/Los_Angeles"),
    (r"(?i:east\s+africa(?:n)?\s+time|nairobi\s+time)|EAT", "Africa/Nairobi"),
    (r"(?i:west\s+africa(?:n)?\s+time)|WAT", "Africa/Lagos"),
    (r"(?i:south\s+africa(?:n)?\s+standard\s+time)|SAST", "Africa/Johannesburg"),
    (r"(?i:central\s+africa(?:n)?\s+time)|CAT", "Africa/Maputo"),
    (r"(?i:india(?:n)?\s+standard\s+time)|IST", "Asia/Kolkata"),
    (r"(?i:japan\s+standard\s+time)|JST", "Asia/Tokyo"),
    (r"KST", "Asia/Seoul"),
    (r"(?i:china\s+standard\s+time|beijing\s+time)", "Asia/Shanghai"),
    (r"SGT", "Asia/Singapore"),
    (r"AES?T|AEDT", "Australia/Sydney"),
    (r"NZS?T|NZDT", "Pacific/Auckland"),
    (r"(?i:bras[ií]lia\s+time)|BRT", "America/Sao_Paulo"),
)
_ZONE_ALT = "|".join(f"(?P<z{i}>{p})" for i, (p, _) in enumerate(_ZONES))
_OFFSET = r"(?P<off>(?:GMT|UTC)\s?(?P<osign>[+\-\u2212])\s?(?P<oh>\d{1,2})(?::?(?P<om>\d{2}))?)"
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
    r"\b(?:organi[sz]ed|hosted|chaired|convened|led|adopted|approved|published|endorsed|supported|funded|signed|"
    r"written|held|prepared|coordinated|facilitated|sponsored|co-?organi[sz]ed|presented|moderated|requested|"
    r"established|nominated|selected|elected|made|issued|sent|decided|followed|accompanied)\s+by\s*$",
    _I,
)
# What may stand between "by" and the date it governs: "by midnight (CET) on the".
_BY_FILLER_RE = re.compile(
    rf"\s{{0,3}}(?:the\s+)?(?:(?:{_TIME_CORE})\s?(?:\(?[A-Za-z ]{{2,40}}\)?\s?)?,?\s?(?:on\s+)?(?:the\s+)?)?", _I)
# Cues that may stand further back in the sentence ("The deadline for the call is: …").
_FAR_CUE_RE = re.compile(
    r"\b(?:deadlines?|closing\s+date|due\s+date|cut-?off\s+date|no\s+later\s+than|not\s+later\s+than|closes|"
    r"submit\w*\s+(?:\w+\s+){0,6}?by)\b",
    _I,
)
# Between the cue and the date these mean the date is when something happens, not a deadline.
_ANTI_RE = re.compile(
    r"\b(?:held|hold|holds|take\s+place|takes\s+place|taking\s+place|took\s+place|will\s+meet|meets|scheduled|"
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
_RANGE_GAP_RE = re.compile(r"\s{0,3}(?:-|\u2010|\u2011|\u2012|\u2013|\u2014|to|until|till|through|and)\s{0,3}", _I)
_DAY_RANGE_RE = re.compile(
    r"(?:\b(?:from|between)\s+)?\b\d{1,2}(?:st|nd|rd|th)?\s{0,3}(?:-|\u2013|\u2014|to|until|till|and)\s{0,3}$", _I)
_OPEN_CUE_RE = re.compile(
    r"\b(?:open|opens|opened|period|accept\w*|running|runs|call|window|availab\w*|review\w*|consultation|"
    r"submi\w*|nominat\w*|applica\w*|apply|registration|register|comments?|deadlines?)\b",
    _I,
)
_EVENT_RANGE_ANTI_RE = re.compile(
    r"\b(?:held|hold|take\s+place|takes\s+place|taking\s+place|took\s+place|meet|meets|meeting|session|workshop|"
    r"webinar|dialogue|conference|forum|visit|mission|scheduled|convened?|plenary|ipbes[\s-]?\d{1,2}|"
    r"save\s+the\s+date|event)\b",
    _I,
)
# "… 28 February 2025 at the latest"
_AFTER_CUE_RE = re.compile(r"[\s,(]{0,3}(?:\([^)]{0,30}\)\s?)?(?:at\s+the\s+(?:very\s+)?latest|latest)\b", _I)
_CHAIN_GAP_RE = re.compile(r"\b(?:and|or)\b|[,;]", _I)
_SUPERSEDED_AFTER_RE = re.compile(
    r"[^.]{0,60}?\b(?:(?:has|have|is|was|were|had)\s+been\s+extended|(?:is|was|were)\s+extended|extended\s+(?:to|until))\b",
    _I,
)
_SUPERSEDED_BEFORE_RE = re.compile(
    r"\b(?:original|previous|initial|former|old|earlier)\s+(?:deadlines?|closing\s+date|dates?)\b[^.]{0,25}$", _I)

_LABELS: tuple[tuple[str, re.Pattern], ...] = (
    ("nomination", _r(r"\bnominat\w*|\bendors\w*")),
    ("application", _r(r"\bappl(?:y|ies|ied|ying|ications?|icants?)\b")),
    ("comments", _r(r"\bcomments?\b|\bcommenting\b|\breview\w*|\bfeedback\b")),
    ("offers", _r(r"\boffers?\b")),
    ("inputs", _r(r"\binputs?\b|\bsuggestions?\b|\bviews\b|\bcontributions?\b|\brequests?\b|\bproposals?\b|"
                  r"\bquestionnaires?\b|\bsurveys?\b|\bcase\s+stud(?:y|ies)\b")),
    ("registration", _r(r"\bregist(?:er|ers|ered|ering|ration)\b")),
)
_NOMINATOR_RE = _r(r"\bnominators?\b|\bnominating\s+(?:governments?|organi[sz]ations?)\b|\bapprov\w*")
_GENERIC_LABELS: tuple[tuple[str, re.Pattern], ...] = (
    ("closing", _r(r"\bclos\w*|\bends?\b|\bending\b|\bperiod\b")),
    ("submission", _r(r"\bsubmi\w*")),
)


def _label(clause: str, fallback: str | None = None) -> str | None:
    """The most specific label named in ``clause``, nearest to its end (i.e. to the date)."""
    best: tuple[int, str] | None = None
    for name, rx in _LABELS:
        last = None
        for m in rx.finditer(clause):
            last = m
        if last is not None and (best is None or last.end() > best[0]):
            best = (last.end(), name)
    if best:
        name = best[1]
        if name == "application" and _NOMINATOR_RE.search(clause):
            return "nomination"     # "Nominators should approve the applications by …"
        return name
    return fallback


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


_TITLE_EVENT_RE = _r(r"\bsession\b|\bplenary\b|\bworkshops?\b|\bwebinars?\b|\bdialogues?\b|\bconferences?\b|"
                     r"\bforums?\b|\bmeetings?\b|\bsave\s+the\s+date\b|\bipbes[\s-]?\d{1,2}\b(?![/\d])|\bheld\b|"
                     r"\bevents?\b|\blaunch\b")


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


def _sentence_candidates(s: str, source: str, order: int, whole_title: bool) -> list[_Candidate]:
    dates = _find_dates(s)
    # Ranges: "from 24 July to 17 September 2024", "(6 Sep 2024 - 24 Jan 2025)", "1-15 March 2024".
    for i, d in enumerate(dates):
        prev = dates[i - 1] if i else None
        if prev is not None and prev.range_start is None and not prev.opens_range:
            gap = s[prev.end:d.start]
            m = _RANGE_GAP_RE.fullmatch(gap)
            if m and (m.group().strip().lower() != "and"
                      or re.search(r"\bbetween\s+(?:the\s+)?$", s[max(0, prev.start - 12):prev.start], _I)):
                prev.opens_range = True
                d.range_start = prev.start
                continue
        m = _DAY_RANGE_RE.search(s, max(prev.end if prev else 0, d.start - 24), d.start)
        if m and (not m.group().strip().lower().endswith("and") or m.group().lower().startswith("between")):
            d.range_start = m.start()

    cands: list[_Candidate] = []
    prev_cand: _Candidate | None = None
    for i, d in enumerate(dates):
        prev_end = dates[i - 1].end if i else 0
        next_start = dates[i + 1].start if i + 1 < len(dates) else len(s)
        c = _Candidate(d, s, source, order)
        cands.append(c)
        if d.opens_range:
            prev_cand = c
            continue
        clause_lo = prev_end
        if d.range_start is not None:
            before = s[max(0, d.range_start - 80):d.range_start]
            if whole_title:
                ok = (not _TITLE_EVENT_RE.search(s) and (_CALL.search(s) or _OPEN_CUE_RE.search(s))) \
                    or bool(_NEAR_CUE_RE.search(s[max(0, d.range_start - 40):d.range_start]))
            else:
                ok = bool(_OPEN_CUE_RE.search(s[:d.range_start])) and not _EVENT_RANGE_ANTI_RE.search(before)
            c.deadline = ok
            if i and dates[i - 1].opens_range:
                clause_lo = dates[i - 2].end if i >= 2 else 0
            label = _label(s[:d.range_start]) if whole_title else _label(s[clause_lo:d.range_start])
            c.label = label or "closing"
        elif (_is_deadline_near(s, d, prev_end) or _is_deadline_far(s, d, prev_end)
              or _AFTER_CUE_RE.match(s, d.end)):
            c.deadline = True
            clause = s[:d.start] if whole_title else s[prev_end:d.start]
            c.label = _label(clause) or (_label(s[:d.start]) if prev_end else None) or _generic_label(clause)
        elif (prev_cand is not None and prev_cand.deadline and dates[i - 1].range_start is None
              and d.start - prev_end <= 100):
            gap = s[prev_end:d.start]
            if _CHAIN_GAP_RE.search(gap) and not _ANTI_RE.search(gap) and not _PASSIVE_ANTI_RE.search(gap):
                # "29 June for the chapters and 9 July for the SPM"
                c.deadline = True
                c.label = _label(gap) or prev_cand.label
        if c.deadline:
            if _SUPERSEDED_AFTER_RE.match(s, d.end) and _NEAR_CUE_RE.search(s[d.end:d.end + 120]) \
                    and any(x.start > d.end for x in dates[i + 1:]):
                c.deadline = False   # "the deadline of 10 January has been extended to 24 January"
            elif _SUPERSEDED_BEFORE_RE.search(s, max(0, d.start - 60), d.start):
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
        if c.date.year is not None:
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
        found.append(ExtractedDeadline(day, c.label, _sentence_text(c.sentence, c.date), c.time, c.tz, c.source))
    return _merge(found)


def _merge(found: list[ExtractedDeadline]) -> list[ExtractedDeadline]:
    """One deadline per date and label; the text's wins over the title's, a specific label over a
    generic one, and a kept deadline inherits a stated time/zone from a dropped duplicate."""
    by_date: dict[dt.date, list[ExtractedDeadline]] = {}
    for d in found:
        by_date.setdefault(d.date, []).append(d)
    out: list[ExtractedDeadline] = []
    for day, items in by_date.items():
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
    """`working_days` working days (Mon–Fri, not in holidays) before the EARLIEST date; None when the list is empty."""
    dates = [d.date() if isinstance(d, dt.datetime) else d for d in secretariat_deadlines or () if d is not None]
    if not dates:
        return None
    day = min(dates)
    remaining = max(0, min(int(working_days or 0), 10_000))
    while remaining:
        day -= dt.timedelta(days=1)
        if day.weekday() < 5 and day not in holidays:
            remaining -= 1
    return day
