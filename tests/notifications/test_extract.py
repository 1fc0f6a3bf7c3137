"""Tests of the pure notification reader (focalpoint.notifications.extract).

Runs standalone: ``python -m pytest tests/notifications/test_extract.py -p no:cacheprovider``.
"""

import datetime as dt
import json
import random
import time
import zoneinfo
from pathlib import Path

import pytest

from focalpoint.notifications import extract as ex
from focalpoint.notifications.extract import (
    KINDS,
    ExtractedDeadline,
    Extraction,
    classify,
    extract,
    extract_deadlines,
    find_references,
    national_deadline,
)

D = dt.date
T = dt.time
SAMPLE = Path(__file__).resolve().parents[3] / "shared/reference/ipbes-notifications-sample.json"


def _load_sample():
    if not SAMPLE.is_file():
        return []
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def _dl(e):
    """Deadlines as comparable tuples: (iso date, label, time or None, tz or None)."""
    return [(d.date.isoformat(), d.label, d.time, d.tz) for d in e.deadlines]


# ---------------------------------------------------------------------------------------------
# 1. The labelled real notifications, scored as checks/lib/score_notifications.py scores them
# ---------------------------------------------------------------------------------------------

SAMPLE_ITEMS = _load_sample()


@pytest.mark.parametrize("item", SAMPLE_ITEMS, ids=[x["guid"] for x in SAMPLE_ITEMS])
def test_sample_notification_meets_its_labels(item):
    published = D.fromisoformat(item["published"]) if item["published"] else None
    e = extract(item["title"], item["text"], published)
    want = item["expected"]
    assert e.kind in want["kinds"]
    assert (e.reference or "").upper() == (want["reference"] or "").upper()
    dates = {d.date.isoformat() for d in e.deadlines}
    for day in want["deadlines"]:
        assert day in dates
    assert e.is_reminder == want["is_reminder"]
    for ref in want["related_references"]:
        assert ref in e.related_references


# ---------------------------------------------------------------------------------------------
# 2. Inline cases in the secretariat's wording
# ---------------------------------------------------------------------------------------------

CASES = [
    dict(
        id="reminder-cites-two-originals-two-step-year-omitted",
        title="REMINDER: Call for nominations of experts for the nexus assessment",
        text="With reference to notifications EM/2022/31 and EM/2022/32, I would like to remind you that the "
             "application period closes on 10 January and nominators must submit their nominations before "
             "24 January 2025, 23:59 (CET).",
        kind="expert_call", reference=None, is_reminder=True, related=["EM/2022/31", "EM/2022/32"],
        deadlines=[("2025-01-10", "application", None, None),
                   ("2025-01-24", "nomination", T(23, 59), "Europe/Berlin")],
    ),
    dict(
        id="extension-with-own-reference",
        title="EM/2022/40: Extension of deadline – call for nominations of experts for the business and "
              "biodiversity assessment",
        text="With reference to notification EM/2022/31, I am pleased to inform you that the deadline for "
             "nominations has been extended to 15 December 2022.",
        kind="expert_call", reference="EM/2022/40", is_reminder=True, related=["EM/2022/31"],
        deadlines=[("2022-12-15", "nomination", None, None)],
    ),
    dict(
        id="reminder-title-carries-original-reference-that-text-cites",
        title="Reminder: Call for nominations of fellows (EM/2024/46)",
        text="This is a reminder of notification EM/2024/46: the deadline for nominations of fellows is "
             "24 January 2025.",
        kind="fellow_call", reference=None, is_reminder=True, related=["EM/2024/46"],
        deadlines=[("2025-01-24", "nomination", None, None)],
    ),
    dict(
        id="reminder-title-reference-is-own-when-not-cited",
        title="REMINDER: EM/2024/46: Call for nominations for fellows for the spatial planning assessment",
        text="",
        kind="fellow_call", reference="EM/2024/46", is_reminder=True, related=[], deadlines=[],
    ),
    dict(
        id="closes-soon-is-a-reminder",
        title="Call for nominations of experts for the monitoring assessment closes soon",
        text="",
        kind="expert_call", reference=None, is_reminder=True, related=[], deadlines=[],
    ),
    dict(
        id="last-call-offers",
        title="Last call: offers to host the technical support unit for the nexus assessment",
        text="Offers should be submitted by 15 March 2024.",
        kind="offers_call", reference=None, is_reminder=True, related=[],
        deadlines=[("2024-03-15", "offers", None, None)],
    ),
    dict(
        id="government-review-spm-split-deadline-year-from-publication",
        title="Government review of the final draft of the summary for policymakers of the transformative "
              "change assessment",
        text="Governments are invited to provide comments by 29 June for the chapters and 9 July for "
             "the SPM.",
        published=D(2024, 5, 2),
        kind="review", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-06-29", "comments", None, None), ("2024-07-09", "comments", None, None)],
    ),
    dict(
        id="split-deadline-next-occurrence-after-publication",
        title="External review of the second order draft of the nexus assessment",
        text="Comments are due by 29 June for the chapters and 9 July for the summary for policymakers.",
        published=D(2024, 7, 1),
        kind="review", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-07-09", "comments", None, None), ("2025-06-29", "comments", None, None)],
    ),
    dict(
        id="webinar-date-is-not-a-deadline-registration-is",
        title="IPBES webinar: how to contribute to the external review of the nexus assessment",
        text="The webinar will take place on Friday, 15 March 2024 at 14:00 CET. Please register by "
             "10 March 2024.",
        kind="event", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-03-10", "registration", None, None)],
    ),
    dict(
        id="ilk-dialogue-workshop",
        title="Call for expressions of interest: indigenous and local knowledge dialogue workshop on "
              "the first "
              "order draft of the spatial planning assessment",
        text="The dialogue workshop will be held online from 5 to 7 March 2025. Indigenous peoples and local "
             "communities are invited to express their interest by filling out the online form no later than "
             "the 15th of February 2025.",
        kind="event", reference=None, is_reminder=False, related=[],
        deadlines=[("2025-02-15", "deadline", None, None)],
    ),
    dict(
        id="mep-nominations-us-date-bonn-time",
        title="Call for nominations of candidates for the Multidisciplinary Expert Panel (EM/2024/12)",
        text="Nominations should reach the secretariat by Sept. 30, 2024, 5 p.m. Bonn time.",
        kind="officials_call", reference="EM/2024/12", is_reminder=False, related=[],
        deadlines=[("2024-09-30", "nomination", T(17, 0), "Europe/Berlin")],
    ),
    dict(
        id="bureau-election",
        title="Nominations of candidates for election to the Bureau at IPBES 11",
        text="Nominations should be submitted no later than 30 June 2024.",
        kind="officials_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-06-30", "nomination", None, None)],
    ),
    dict(
        id="plenary-invitation-session-dates-are-not-deadlines",
        title="Invitation to the eleventh session of the Plenary of IPBES (IPBES 11)",
        text="The eleventh session will be held in Windhoek, Namibia, from 10 to 16 December 2024. "
             "Governments are requested to register their delegates by 1 November 2024 using the online "
             "registration system.",
        kind="plenary", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-11-01", "registration", None, None)],
    ),
    dict(
        id="save-the-date-range-in-title-is-not-a-deadline",
        title="Save the date: IPBES 12, 8–14 December 2025",
        text="",
        kind="plenary", reference=None, is_reminder=False, related=[], deadlines=[],
    ),
    dict(
        id="task-force-midnight-gmt",
        title="Call for nominations of experts for the task force on scenarios and models (EM/2023/20)",
        text="Nominations should be submitted by January 10, 2025, midnight GMT.",
        kind="expert_call", reference="EM/2023/20", is_reminder=False, related=[],
        deadlines=[("2025-01-10", "nomination", T(23, 59), "UTC")],
    ),
    dict(
        id="deadline-extended-to",
        title="Deadline extended: external review of the second order draft of the nexus assessment",
        text="The deadline for comments has been extended to 5 March 2024, 23:59 CET.",
        kind="review", reference=None, is_reminder=True, related=[],
        deadlines=[("2024-03-05", "comments", T(23, 59), "Europe/Berlin")],
    ),
    dict(
        id="old-deadline-superseded-by-extension",
        title="Extension of deadline: call for nominations of fellows",
        text="The deadline of 10 January 2025 for applications has been extended to 24 January 2025.",
        kind="fellow_call", reference=None, is_reminder=True, related=[],
        deadlines=[("2025-01-24", "application", None, None)],
    ),
    dict(
        id="iso-date-from-relay",
        title="IPBES: call for inputs on the draft stakeholder engagement strategy",
        text="Action required by 2023-02-19",
        kind="inputs_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2023-02-19", "deadline", None, None)],
    ),
    dict(
        id="us-order-weekday-edt",
        title="Questionnaire on the use of IPBES assessments",
        text="Responses are due Friday, May 3, 2024 at 11:59 p.m. EDT.",
        kind="inputs_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-05-03", "deadline", T(23, 59), "America/New_York")],
    ),
    dict(
        id="ordinal-of-month",
        title="Call for nominations of fellows for the monitoring assessment",
        text="Nominations must be submitted by the 15th of March 2025.",
        kind="fellow_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2025-03-15", "nomination", None, None)],
    ),
    dict(
        id="abbreviated-months-two-step",
        title="Call for nominations of experts for the second global assessment",
        text="Applications close on 10 Jan. 2025. Nominators then approve them by 24 Jan. 2025.",
        kind="expert_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2025-01-10", "application", None, None), ("2025-01-24", "nomination", None, None)],
    ),
    dict(
        id="open-range-keeps-closing-date-only",
        title="External review of the second order draft of the spatial planning assessment",
        text="The external review is open from 24 July to 17 September 2024.",
        kind="review", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-09-17", "comments", None, None)],
    ),
    dict(
        id="range-in-title",
        title="Call for nominations of experts for the second global assessment (1 Oct 2024 – 15 Dec 2024)",
        text="",
        kind="expert_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-12-15", "nomination", None, None)],
    ),
    dict(
        id="deadline-in-title",
        title="Call for offers to host the technical support unit for the nexus assessment - deadline is "
              "15 October 2024",
        text="",
        kind="offers_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-10-15", "offers", None, None)],
    ),
    dict(
        id="session-and-selection-dates-are-not-deadlines",
        title="Call for nominations of experts – assessment of invasive alien species (EM/2018/22)",
        text="Experts will be selected during IPBES 7, taking place from 29 April to 4 May 2019 in Paris, "
             "France. Experts will be informed of their selection by 30 June 2019.",
        kind="expert_call", reference="EM/2018/22", is_reminder=False, related=[], deadlines=[],
    ),
    dict(
        id="two-step-year-omitted-on-first-date-with-ellipsis",
        title="EM/2025/01: Call for nominations of experts for the monitoring assessment",
        text="Experts should complete the application form by 10 January … nominators approve and submit "
             "nominations before 24 January 2025.",
        kind="expert_call", reference="EM/2025/01", is_reminder=False, related=[],
        deadlines=[("2025-01-10", "application", None, None), ("2025-01-24", "nomination", None, None)],
    ),
    dict(
        id="decision-numbers-and-bare-years-are-not-dates",
        title="Call for inputs to strengthen the implementation of objective 2(b)",
        text="In accordance with decision IPBES-10/1, approved in 2019, please submit your views by 5 "
             "May 2024.",
        kind="inputs_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-05-05", "inputs", None, None)],
    ),
    dict(
        id="our-ref-in-text-is-own-further-to-is-related",
        title="Call for nominations of experts: Global Assessment",
        text="Our Ref: EM/2016/22\nDear Sir/Madam, further to notification EM/2016/10, I am pleased to "
             "invite "
             "nominations.",
        kind="expert_call", reference="EM/2016/22", is_reminder=False, related=["EM/2016/10"], deadlines=[],
    ),
    dict(
        id="reference-printed-at-start-of-text",
        title="Call for offers to host the technical support units for the IPBES task forces",
        text="8 September 2023 EM/2023/31 Notification: Call for offers to host the technical support units.",
        kind="offers_call", reference="EM/2023/31", is_reminder=False, related=[], deadlines=[],
    ),
    dict(
        id="cited-reference-is-never-own",
        title="Call for nominations for fellows",
        text="Further to the call for nominations of experts (EM/2024/45), Governments are invited to "
             "nominate fellows.",
        kind="fellow_call", reference=None, is_reminder=False, related=["EM/2024/45"], deadlines=[],
    ),
    dict(
        id="reference-colon-marks-own",
        title="Call for nominations of experts for the business and biodiversity assessment",
        text="Reference: EM/2022/31; Deliverable: Business and biodiversity assessment",
        kind="expert_call", reference="EM/2022/31", is_reminder=False, related=[], deadlines=[],
    ),
    dict(
        id="offers-6pm-central-european-time",
        title="Call for offers to host the technical support unit for the business and biodiversity "
              "assessment",
        text="Interested Governments are invited to submit their offers by 15 October 2024, 6 p.m. "
             "(Central European Time) to the secretariat.",
        kind="offers_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-10-15", "offers", T(18, 0), "Europe/Berlin")],
    ),
    dict(
        id="time-and-zone-before-the-date",
        title="IPBES stakeholder workshop on capacity-building",
        text="Registration is open until 17:00 CEST on Monday 3 June 2024.",
        kind="event", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-06-03", "registration", T(17, 0), "Europe/Berlin")],
    ),
    dict(
        id="dotted-numeric-date-and-time",
        title="Call for inputs: questionnaire on policy support tools",
        text="Please respond by 31.01.2024 at 17.00 CET.",
        kind="inputs_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-01-31", "deadline", T(17, 0), "Europe/Berlin")],
    ),
    dict(
        id="utc-offset",
        title="Call for submissions: IPBES policy support gallery",
        text="The deadline for submissions is 15 March 2024, 12:00 (UTC+2).",
        kind="inputs_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-03-15", "submission", T(12, 0), "Etc/GMT-2")],
    ),
    dict(
        id="est-before-date",
        title="Call for nominations of experts for the scoping of the business and biodiversity assessment",
        text="Nominations must be received by 5 p.m. EST on 1 March 2024.",
        kind="expert_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-03-01", "nomination", T(17, 0), "America/New_York")],
    ),
    dict(
        id="end-of-month",
        title="Call for contributions to the catalogue of policy support tools",
        text="Please submit your contributions by the end of June 2024.",
        kind="inputs_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-06-30", "inputs", None, None)],
    ),
    dict(
        id="organised-by-is-not-a-deadline-cue",
        title="IPBES capacity-building forum 2024",
        text="The forum, organized by UNEP on 5 March 2024, brought together 40 experts.",
        kind="event", reference=None, is_reminder=False, related=[], deadlines=[],
    ),
    dict(
        id="letter-date-is-not-a-deadline",
        title="Call for contributions on indigenous and local knowledge",
        text="Bonn, 6 September 2024. Dear colleagues, the deadline for the call is 24 January 2025.",
        kind="inputs_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2025-01-24", "deadline", None, None)],
    ),
    dict(
        id="case-studies-until",
        title="Call for case studies for the spatial planning assessment",
        text="Case studies can be submitted until 31 March 2025.",
        kind="inputs_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2025-03-31", "inputs", None, None)],
    ),
    dict(
        id="open-consultative-process-le-reference-with-en-dash",
        title="Open consultative process on the draft scoping report for the nexus assessment (LE/2015–16)",
        text="Comments should be sent to the technical support unit no later than 3 November 2015.",
        kind="review", reference="LE/2015-16", is_reminder=False, related=[],
        deadlines=[("2015-11-03", "comments", None, None)],
    ),
    dict(
        id="at-the-latest",
        title="Call for nominations for the IPBES review panel",
        text="Nominations must be received on 28 February 2025 at the latest.",
        kind="officials_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2025-02-28", "nomination", None, None)],
    ),
    dict(
        id="time-before-date-pm-does-not-split-sentence",
        title="Call for offers to host IPBES 13",
        text="The call closes at 6 p.m. CET on 15 March 2024. Late offers will be considered after 20 "
             "March 2024.",
        kind="offers_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-03-15", "closing", T(18, 0), "Europe/Berlin")],
    ),
    dict(
        id="eg-does-not-split-sentence",
        title="Call for inputs on the rolling work programme",
        text="Submit inputs (e.g. case studies) by 1 June 2024.",
        kind="inputs_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-06-01", "inputs", None, None)],
    ),
    dict(
        id="deadline-is-colon-year-from-publication",
        title="Call for contributions on indigenous and local knowledge",
        text="The deadline for the call is: 10 July",
        published=D(2020, 6, 1),
        kind="inputs_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2020-07-10", "deadline", None, None)],
    ),
    dict(
        id="chain-of-deadlines-with-labels",
        title="Call for nominations of experts for the nexus assessment",
        text="Deadlines: applications 10 January 2025; nominations 24 January 2025.",
        kind="expert_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2025-01-10", "application", None, None), ("2025-01-24", "nomination", None, None)],
    ),
    dict(
        id="experts-named-before-fellows",
        title="EM/2016/22: Call for nominations of experts: Global Assessment (Deliverable 2c) and IPBES "
              "Fellowship Pilot Programme",
        text="",
        kind="expert_call", reference="EM/2016/22", is_reminder=False, related=[], deadlines=[],
    ),
    dict(
        id="expert-reviewers-are-a-review",
        title="Call for expert reviewers: second order draft of the values assessment",
        text="Expert reviewers are invited to register and submit comments between 1 and 15 March 2024.",
        kind="review", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-03-15", "comments", None, None)],
    ),
    dict(
        id="year-from-later-dated-deadline-across-sentences",
        title="Call for nominations of fellows for the nexus assessment",
        text="Candidates apply by 10 December. Nominators submit their nominations by 15 January 2025.",
        kind="fellow_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-12-10", "application", None, None), ("2025-01-15", "nomination", None, None)],
    ),
    dict(
        id="text-decides-when-title-says-nothing",
        title="Notification",
        text="I am pleased to invite Governments to submit their offers to host the technical support unit "
             "by 1 December 2023.",
        kind="offers_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2023-12-01", "offers", None, None)],
    ),
    dict(
        id="list-of-deadlines-under-a-heading",
        title="Call for nominations of experts for the business and biodiversity assessment",
        text="Our ref.: EM/2022/31\n\nThe deadlines are as follows:\n• Experts: 1 November 2022\n"
             "• Nominators: 15 November 2022\n\nSelf-nominations are not accepted.",
        kind="expert_call", reference="EM/2022/31", is_reminder=False, related=[],
        deadlines=[("2022-11-01", "application", None, None), ("2022-11-15", "nomination", None, None)],
    ),
    dict(
        id="label-from-words-after-the-date-and-noon",
        title="Call for nominations of experts for the task force on policy tools",
        text="Experts have until 14 February 2025 at 12 noon (CET) to apply; nominators until 28 "
             "February 2025 "
             "to approve.",
        kind="expert_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2025-02-14", "application", T(12, 0), "Europe/Berlin"),
                   ("2025-02-28", "nomination", None, None)],
    ),
    dict(
        id="extension-range-from-old-to-new-date",
        title="Extension of the deadline for the call for nominations for the IPBES review panel",
        text="Further to notification EM/2017/31 of 8 November 2017, the deadline for nominations for "
             "the review "
             "panel has been extended from 15 January to 31 January 2018.",
        kind="officials_call", reference=None, is_reminder=True, related=["EM/2017/31"],
        deadlines=[("2018-01-31", "nomination", None, None)],
    ),
    dict(
        id="reminder-title-naming-two-calls-has-no-own-reference",
        title="Reminder: calls for nominations of experts (EM/2024/45) and fellows (EM/2024/46)",
        text="",
        kind="expert_call", reference=None, is_reminder=True, related=["EM/2024/45", "EM/2024/46"],
        deadlines=[],
    ),
    dict(
        id="recalled-notification-is-related",
        title="Reminder: Call for offers to host the technical support unit for the spatial planning "
              "assessment",
        text="I would like to recall notification EM/2024/50 of 6 September 2024 inviting offers ... "
             "The deadline "
             "for submission of offers is 15 October 2024.",
        kind="offers_call", reference=None, is_reminder=True, related=["EM/2024/50"],
        deadlines=[("2024-10-15", "offers", None, None)],
    ),
    dict(
        id="bare-call-for-nominations-title-defers-to-text",
        title="Call for nominations (EM/2021/13)",
        text="Governments are invited to nominate candidates for the IPBES fellowship programme by "
             "15 October 2021.",
        kind="fellow_call", reference="EM/2021/13", is_reminder=False, related=[],
        deadlines=[("2021-10-15", "nomination", None, None)],
    ),
    dict(
        id="nearer-open-cue-beats-session-name-in-range",
        title="Invitation to register for the IPBES Stakeholder Days",
        text="Registration for the stakeholder days preceding IPBES 11 will be open from 1 to "
             "30 October 2024.",
        kind="event", reference=None, is_reminder=False, related=[],
        deadlines=[("2024-10-30", "registration", None, None)],
    ),
    dict(
        id="contribute-knowledge-is-inputs",
        title="IPBES call: contribute your knowledge",
        text="Indigenous peoples and local communities are invited to share their knowledge through the "
             "online form until 30 September 2021.",
        kind="inputs_call", reference=None, is_reminder=False, related=[],
        deadlines=[("2021-09-30", "deadline", None, None)],
    ),
    dict(
        id="reminder-header-at-start-of-text-is-own",
        title="Reminder: call for nominations of fellows",
        text="REMINDER: EM/2024/46: Call for nominations for fellows for the spatial planning assessment",
        kind="fellow_call", reference="EM/2024/46", is_reminder=True, related=[], deadlines=[],
    ),
    dict(
        id="financial-contributions-are-other",
        title="Contributions to the IPBES Trust Fund for 2025",
        text="",
        kind="other", reference=None, is_reminder=False, related=[], deadlines=[],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_inline_case(case):
    e = extract(case["title"], case["text"], case.get("published"))
    assert e.kind == case["kind"]
    assert e.reference == case["reference"]
    assert e.is_reminder == case["is_reminder"]
    assert e.related_references == case["related"]
    assert _dl(e) == case["deadlines"]


def test_enough_inline_cases():
    assert len(CASES) >= 40


def test_extraction_shape_and_invariants():
    e = extract("EM/2024/46: Call for nominations for fellows (6 Sep 2024 - 24 Jan 2025)",
                "Nominators submit by 24 January 2025 and applications close on 10 January 2025.", None)
    assert isinstance(e, Extraction)
    assert all(isinstance(d, ExtractedDeadline) for d in e.deadlines)
    assert [d.date for d in e.deadlines] == sorted(d.date for d in e.deadlines)
    assert len({(d.date, d.label) for d in e.deadlines}) == len(e.deadlines)
    assert e.kind in KINDS
    assert e.deadlines[0] == ExtractedDeadline(
        D(2025, 1, 10), "application",
        "Nominators submit by 24 January 2025 and applications close on 10 January 2025.", None, None, "text")
    assert e.deadlines[1].source == "text"   # the text's sentence wins over the title's range


def test_title_deadline_keeps_title_source():
    title = "Call for offers to host the technical support unit - deadline is 15 October 2024"
    [d] = extract_deadlines(title, "", None)
    assert d == ExtractedDeadline(D(2024, 10, 15), "offers", title, None, None, "title")


def test_deadline_text_is_collapsed_and_capped():
    long = "Please submit your views\n\n   by 5 May 2024 " + "and more words " * 100
    [d] = extract_deadlines("", long.replace("\n\n", " \n "), None)
    assert len(d.text) <= 500
    assert "  " not in d.text and "\n" not in d.text
    assert "by 5 May 2024" in d.text


# ---------------------------------------------------------------------------------------------
# References and classification, directly
# ---------------------------------------------------------------------------------------------


def test_find_references_normalises_and_deduplicates():
    s = ("See EM / 2024 / 46, LE/2015–16, em/2017/9, EM/2017/09, EM–2023–5 and EM/2024/46 again; "
         "EM/99999/1 and XEM/2024/3 are not references.")
    assert find_references(s) == ["EM/2024/46", "LE/2015-16", "EM/2017/9", "EM/2023/5"]


def test_find_references_keeps_padding_as_written():
    assert find_references("EM/2025/01 then EM/2017/9") == ["EM/2025/01", "EM/2017/9"]


def test_find_references_empty():
    assert find_references("") == []


@pytest.mark.parametrize("title, kind, rule", [
    ("Call for nominations for members of the IPBES review panel (EM/2017/31)", "officials_call",
     "title: nominations for Bureau / MEP / review panel / Chair"),
    ("Call for nominations for the task force on capacity-building", "expert_call",
     "title: call for nominations … experts / authors / task force"),
    ("Call for applications: IPBES fellowship programme", "fellow_call",
     "title: call for nominations … fellows"),
    ("Documents for the tenth session of the Plenary now available", "plenary",
     "title: plenary session / save the date"),
    ("Call for views on the effectiveness review of the Platform", "inputs_call",
     "title: call for inputs / submissions / views"),
    ("Call for inputs for the meeting of the task force on knowledge and data", "inputs_call",
     "title: call for inputs / submissions / views"),
    ("Questionnaire on the use of IPBES assessments", "inputs_call",
     "title: inputs / submissions / contributions / questionnaire"),
    ("Meeting documents for IPBES 11", "plenary", "title: plenary session / save the date"),
    ("Invitation to experts to review the first order draft of the nexus assessment", "review",
     "title: review of drafts / comments invited"),
    ("Call for expressions of interest to host the twelfth session of the Plenary", "offers_call",
     "title: offers to host (technical support unit, session)"),
    ("Selected experts for the business and biodiversity assessment", "other",
     "title: announcement of selection results"),
    ("Call for nominations – deadline extended", "expert_call",
     "title: call for nominations (experts by default)"),
])
def test_classify_title_rules(title, kind, rule):
    assert classify(title, "") == (kind, rule)


def test_classify_falls_back_to_text_then_other():
    text = "Governments are invited to nominate experts for the nexus assessment."
    assert classify("Notification", text) == ("expert_call", "text: invites nominations of experts")
    assert classify("", "") == ("other", "default: no rule matched")


def test_classify_is_deterministic():
    args = ("Reminder: IPBES webinar on the second order draft", "Please register.")
    assert {classify(*args) for _ in range(5)} == {("event", "title: webinar / workshop / dialogue / event")}


def test_every_mapped_zone_is_an_iana_name():
    for _pattern, name in ex._ZONES:
        zoneinfo.ZoneInfo(name)


# ---------------------------------------------------------------------------------------------
# 3. National deadline
# ---------------------------------------------------------------------------------------------


def test_national_deadline_empty_is_none():
    assert national_deadline([], 5) is None


def test_national_deadline_counts_back_from_earliest():
    # Tue 15 Oct 2024 minus 5 working days -> Tue 8 Oct
    assert national_deadline([D(2024, 10, 20), D(2024, 10, 15)], 5) == D(2024, 10, 8)


def test_national_deadline_skips_weekend():
    assert national_deadline([D(2024, 10, 14)], 1) == D(2024, 10, 11)   # Monday -> Friday
    assert national_deadline([D(2024, 10, 19)], 1) == D(2024, 10, 18)   # Saturday -> Friday


def test_national_deadline_skips_holidays():
    holidays = frozenset({D(2024, 12, 25), D(2024, 12, 26)})
    assert national_deadline([D(2024, 12, 27)], 3, holidays) == D(2024, 12, 20)


def test_national_deadline_zero_days_is_the_date():
    assert national_deadline([D(2024, 12, 27)], 0) == D(2024, 12, 27)


# ---------------------------------------------------------------------------------------------
# 4. Hostile input is bounded
# ---------------------------------------------------------------------------------------------

MB = 1_000_000


def _mb(unit: str) -> str:
    return (unit * (MB // len(unit) + 1))[:MB]


ADVERSARIAL = {
    "refs": _mb("EM / 2024 / "),
    "dates": _mb("1 January "),
    "cues": _mb("by no later than deadline "),
    "dots": _mb("a."),
    "digits": _mb("9"),
    "newlines": _mb("\n \n"),
    "us-dates": _mb("Jan 1, "),
    "times": _mb("12:00 CET ((("),
    "no-spaces": _mb("x"),
    "ranges": _mb("from 1 to "),
    "mixed": _mb("Reminder: EM/2024/1 Further to by 10 January … 23:59 (CET) from 1 to 2 March 2024 "
                 "p.m. e.g. "),
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_one_megabyte_of_adversarial_text_is_fast(name):
    payload = ADVERSARIAL[name]
    assert len(payload) == MB
    t0 = time.perf_counter()
    e = extract(payload[:5000], payload, D(2024, 1, 1))
    find_references(payload)
    elapsed = time.perf_counter() - t0
    assert e.kind in KINDS
    assert elapsed < 1.0


# ---------------------------------------------------------------------------------------------
# 5. Robustness
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("title, text, published", [
    ("", "", None),
    ("", "", ""),
    (None, None, None),
    ("EM/99999/1", "EM/2024/99999999 by 32 January 2024 and 31 February 2023 and 2024-13-45", None),
    ("by 99999999999999999999 January 2024", "by 0 March 2024 or 00.00.0000 at 99:99 CET", "not a date"),
    ("\x00\xff\xfe garbage", "".join(chr(c) for c in range(0, 0x300)), dt.datetime(2024, 1, 1, 12, 0)),
    ("Reminder", "...", D(2024, 1, 1)),
])
def test_odd_input_never_raises(title, text, published):
    e = extract(title, text, published)
    assert e.kind in KINDS
    assert e.deadlines == []


def test_random_garbage_never_raises():
    rng = random.Random(20240906)
    alphabet = "EMLE/-–20241Jan MayJune by deadline closes from to 0123456789:.,() p.m. CET\n…"
    for _ in range(300):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        e = extract(s[:80], s, rng.choice([None, D(2024, 6, 1)]))
        assert e.kind in KINDS
        assert all(isinstance(d.date, dt.date) for d in e.deadlines)


def test_impossible_dates_are_skipped_not_raised():
    assert extract_deadlines("", "Submit by 32 January 2024 or by 29 February 2023.", None) == []
    assert [d.date for d in extract_deadlines("", "Submit by 29 February 2024.", None)] == [D(2024, 2, 29)]
