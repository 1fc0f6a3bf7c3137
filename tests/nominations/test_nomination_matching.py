"""The pure half of matching: words, guessing a call's deliverable and roles, scores with their reasons,
filters, flags and the balance of a selection. No database: exact values on hand-made inputs."""
from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

from focalpoint.nominations import matching as m
from focalpoint.reference.services import reference_data

DATA = reference_data()
REFS = [m.DeliverableRef(id=i, code=d["code"], short_name=d["short_name"], title=d["title"], year=d["year"])
        for i, d in enumerate(DATA["deliverables"], start=1)]
NEXUS = next(r for r in REFS if r.code == "nexus")
VALUES = next(r for r in REFS if r.code == "values")
ECOSYSTEMS = [(t["code"], t["label"]) for t in DATA["vocabularies"]["ecosystem"]]
TODAY = dt.date(2025, 6, 1)


# --- words ------------------------------------------------------------------------------------------
def test_words_fold_accents_strip_plurals_and_drop_stop_words_and_boilerplate():
    assert m.words("Écosystèmes des zones humides; Wetlands and the forests of IPBES assessments") == \
        {"ecosysteme", "zone", "humide", "wetland", "forest"}
    assert m.words("The IPBES assessment of biodiversity", drop_generic=False) == \
        {"ipbe", "assessment", "biodiversity"}
    assert m.keyword_words("spatial planning; ; Connectivity ") == {"spatial", "planning", "connectivity"}


def test_gbf_targets_are_read_from_lists_and_codes():
    assert m.gbf_targets_named("targets 2, 3 and 14 of the KM-GBF; also Target 21 and T8; not T99 or target 30") == \
        {"T2", "T3", "T14", "T21", "T8"}
    assert m.gbf_targets_named("no target here") == set()


# --- guessing the deliverable and the roles -----------------------------------------------------------
@pytest.mark.parametrize(("text", "year", "expected"), [
    ("EM/2024/46: Call for nominations for fellows for the methodological assessment of integrated "
     "biodiversity-inclusive spatial planning and ecological connectivity (6 Sep 2024 - 24 Jan 2025)", 2024,
     "spatial-planning"),
    ("Call for nominations of experts for the second global assessment of biodiversity and ecosystem services",
     2025, "global-2"),
    ("EM/2022/31: Call for nominations of experts to participate in the methodological assessment of the impact "
     "and dependence of business on biodiversity and nature’s contributions to people", 2022,
     "business-biodiversity"),
    ("Call for nominations of experts – assessment of invasive alien species (EM/2018/22)", 2018,
     "invasive-alien-species"),
    ("EM/2021/07: Call for nominations of experts for the nexus assessment", 2021, "nexus"),
    ("Call for nominations: assessment of the interlinkages among biodiversity, water, food and health", 2021,
     "nexus"),
    ("Call for nominations for the task force on scenarios and models", 2023, "tf-scenarios-and-models"),
    ("Call for nominations of experts for the regional assessment for Europe and Central Asia", 2015,
     "regional-eca"),
    # "global assessment" alone: the first one in 2016, the second one once the first is published
    ("EM/2016/22: Call for nominations of experts: Global Assessment (Deliverable 2c)", 2016, "global-2019"),
    ("Call for nominations of experts: Global Assessment", 2025, "global-2"),
    ("Call for nominations for members of the IPBES review panel (EM/2017/31)", 2017, None),
    ("Save the date: session of the Plenary", 2024, None),
])
def test_guess_deliverable_on_real_titles(text, year, expected):
    found = m.guess_deliverable(text, REFS, year=year)
    assert (found.code if found else None) == expected


def test_deliverable_scores_explain_the_choice_between_close_candidates():
    scored = m.deliverable_scores("Call for nominations for the task force on scenarios and models", REFS, year=2023)
    assert [(score, plausible, d.code) for score, plausible, d in scored] == [
        (2.3, 1, "tf-scenarios-and-models"), (1.5, 0, "scenarios-models")]


@pytest.mark.parametrize(("kind", "text", "expected"), [
    ("expert_call", "Call for nominations of experts for the nexus assessment", ["CLA", "LA", "RE"]),
    ("expert_call", "Global Assessment (Deliverable 2c) and scoping of the sustainable use of biodiversity",
     ["CLA", "LA", "RE", "SCOPING_EXPERT"]),
    ("expert_call", "Call for co-chairs and experts of the task force on capacity-building",
     ["CO_CHAIR", "CLA", "LA", "RE", "TF_MEMBER"]),
    ("fellow_call", "Call for nominations for fellows for the spatial planning assessment", ["FELLOW"]),
    ("officials_call", "Nomination of candidates for the Multidisciplinary Expert Panel (MEP)", ["MEP_MEMBER"]),
    ("officials_call", "Election of the members of the Bureau", ["BUREAU_MEMBER"]),
    ("officials_call", "Call for nominations for members of the IPBES review panel", ["MEP_MEMBER", "BUREAU_MEMBER"]),
])
def test_guess_roles_by_kind_and_words(kind, text, expected):
    assert m.guess_roles(kind, text) == expected


# --- scoring a hand-made registry -------------------------------------------------------------------
def call_profile(kind="expert_call", roles=("CLA", "LA", "RE"), **extra) -> m.CallProfile:
    words, targets, ecosystems = m.call_text_profile(
        title="Nexus call: water quality, food security and health", description="Wetlands and forests; KM-GBF "
        "targets 2 and 11.", keywords="", deliverable_short_name=NEXUS.short_name, deliverable_title=NEXUS.title,
        ecosystem_terms=ECOSYSTEMS)
    return m.CallProfile(id=1, call_kind=kind, deliverable_id=NEXUS.id, deliverable_name=NEXUS.short_name,
                         roles_sought=list(roles), words=words, gbf_targets=targets, ecosystems=ecosystems,
                         today=TODAY, **extra)


def registry() -> list[m.ExpertProfile]:
    return [
        m.ExpertProfile(1, "Ann Peeters", region="flanders", gender="female", career_stage="senior",
                        keywords="water quality; governance", roles_wanted={"CLA"}, disciplines={"natural-sciences"},
                        gbf_targets={"T2"}, ecosystems={"wetlands"}, deliverable_ids={NEXUS.id},
                        past_roles=[m.PastRoleRow(NEXUS.id, NEXUS.short_name, "LA", 2020, 2023)]),
        m.ExpertProfile(2, "Bart Claes", region="wallonia", gender="male", career_stage="mid",
                        availability="limited", keywords="food security; agroecology", roles_wanted={"RE", "LA"},
                        disciplines={"social-sciences"},
                        past_roles=[m.PastRoleRow(VALUES.id, VALUES.short_name, "RE", 2017, 2021)]),
        m.ExpertProfile(3, "Chloé Dubois", region="brussels", gender="female", career_stage="early",
                        availability="unavailable", keywords="forest management", ecosystems={"forests"},
                        disciplines={"ilk", "natural-sciences"}),
        m.ExpertProfile(4, "David Maes", region="flanders", gender="male", career_stage="early",
                        has_contact_consent=False, deliverable_ids={NEXUS.id}),
        m.ExpertProfile(5, "Elise Janssens", region="abroad", gender="non_binary", career_stage="mid",
                        keywords="marine biology"),
        m.ExpertProfile(6, "Femke Wouters", region="federal", career_stage="senior",
                        past_roles=[m.PastRoleRow(VALUES.id, VALUES.short_name, "CA", 2024, 2026)]),
    ]


def context() -> dict:
    return {"invitations": {5: ("pending", True), 3: ("declined", False)}, "slate": {6: "candidate"},
            "other_calls": {6: ["Values call"]}}


def test_call_profile_reads_words_targets_and_ecosystems_from_the_call():
    call = call_profile()
    assert call.gbf_targets == {"T2", "T11"}
    assert call.ecosystems == {"wetlands", "forests"}
    assert {"water", "quality", "food", "security", "health", "nexus", "forest", "wetland"} <= call.words
    assert not {"call", "biodiversity", "the", "and"} & call.words


def test_ranking_order_scores_and_reasons_are_exact():
    ranked = m.rank_experts(call_profile(**context()), registry())
    assert [(x.expert.name, x.score) for x in ranked] == [
        ("Ann Peeters", 40 + 25 + 15 + 10 + 16), ("David Maes", 40), ("Bart Claes", 10 + 15 + 10 - 10),
        ("Elise Janssens", 0), ("Femke Wouters", 0), ("Chloé Dubois", 5 + 8 - 50)]
    reasons = {x.expert.name: x.reasons for x in ranked}
    assert reasons["Ann Peeters"] == [
        "expertise in Nexus (biodiversity, water, food and health)",
        "LA on Nexus (biodiversity, water, food and health) 2020–2023", "wants CLA", "keywords: quality, water",
        "GBF targets: T2", "ecosystems: wetlands"]
    assert reasons["Bart Claes"] == ["RE on Values (diverse values and valuation of nature) 2017–2021", "wants LA, RE",
                                     "keywords: food, security", "limited availability"]
    assert reasons["Chloé Dubois"] == ["keywords: forest", "ecosystems: forests", "unavailable"]
    assert reasons["David Maes"] == ["expertise in Nexus (biodiversity, water, food and health)"]
    assert reasons["Elise Janssens"] == []


def test_flags_consent_invitations_conflicts_slate_other_calls_and_current_roles():
    ranked = {x.expert.name: x for x in m.rank_experts(call_profile(**context()), registry())}
    assert ranked["Ann Peeters"].flags == []
    assert ranked["Ann Peeters"].can_invite is True
    assert ranked["David Maes"].flags == [("no_consent", "no consent to be contacted")]
    assert ranked["Elise Janssens"].flags == [("invited", "already invited (pending)"),
                                              ("conflict_declared", "declared a conflict of interest")]
    assert ranked["Chloé Dubois"].flags == [("unavailable", "says they are unavailable"),
                                            ("declined", "declined this call")]
    assert ranked["Femke Wouters"].flags == [
        ("on_slate", "on the slate (candidate)"), ("other_call", "nominated on another call: Values call"),
        ("current_role", "current IPBES role: CA on Values (diverse values and valuation of nature) 2024–2026")]
    assert {name for name, x in ranked.items() if x.can_invite} == {"Ann Peeters", "Bart Claes"}
    assert ranked["Femke Wouters"].as_dict() == {
        "expert_id": 6, "name": "Femke Wouters", "score": 0, "reasons": [],
        "flags": ["on_slate", "other_call", "current_role"],
        "flag_texts": ["on the slate (candidate)", "nominated on another call: Values call",
                       "current IPBES role: CA on Values (diverse values and valuation of nature) 2024–2026"],
        "can_invite": False}


def test_fellow_call_puts_early_careers_first_and_the_others_far_down():
    ranked = m.rank_experts(call_profile(kind="fellow_call", roles=("FELLOW",)), registry())
    assert [(x.expert.name, x.score) for x in ranked] == [
        ("David Maes", 40 + 20), ("Ann Peeters", 40 + 25 + 10 + 16 - 60), ("Chloé Dubois", 5 + 8 + 20 - 50),
        ("Bart Claes", 10 - 10 - 60), ("Elise Janssens", -60), ("Femke Wouters", -60)]
    by_name = {x.expert.name: x.reasons for x in ranked}
    assert by_name["David Maes"][-1] == "early career"
    assert by_name["Elise Janssens"] == ["not early career (fellowships are for early careers)"]
    # a past role on another deliverable counts only when it is a role sought (RE is not sought here)
    assert by_name["Bart Claes"] == ["keywords: food, security",
                                     "not early career (fellowships are for early careers)", "limited availability"]


def test_a_past_role_without_a_known_deliverable_and_an_open_ended_current_role():
    expert = m.ExpertProfile(9, "Ivo Test", past_roles=[m.PastRoleRow(None, "Old task force", "LA", 2023, None)])
    match = m.score_expert(call_profile(), expert)
    assert match.score == 10
    assert match.reasons == ["LA on Old task force 2023–"]
    assert match.flags == [("current_role", "current IPBES role: LA on Old task force 2023–")]


@pytest.mark.parametrize(("filters", "expected"), [
    (m.MatchFilters(), ["Ann Peeters", "David Maes", "Bart Claes", "Elise Janssens", "Femke Wouters", "Chloé Dubois"]),
    (m.MatchFilters(region="flanders"), ["Ann Peeters", "David Maes"]),
    (m.MatchFilters(gender="female"), ["Ann Peeters", "Chloé Dubois"]),
    (m.MatchFilters(career_stage="early"), ["David Maes", "Chloé Dubois"]),
    (m.MatchFilters(discipline="natural-sciences"), ["Ann Peeters", "Chloé Dubois"]),
    (m.MatchFilters(min_score=25), ["Ann Peeters", "David Maes", "Bart Claes"]),
    (m.MatchFilters(min_score=0, hide_invited=True), ["Ann Peeters", "David Maes", "Bart Claes"]),
    (m.MatchFilters(hide_invited=True), ["Ann Peeters", "David Maes", "Bart Claes"]),
    (m.MatchFilters(region="flanders", career_stage="senior"), ["Ann Peeters"]),
    (m.MatchFilters(region="wallonia", gender="female"), []),
])
def test_filters_combine_with_and(filters, expected):
    ranked = m.rank_experts(call_profile(**context()), registry())
    assert [x.expert.name for x in m.filter_matches(ranked, filters)] == expected


# --- balance ----------------------------------------------------------------------------------------
LABELS = {
    "gender": {"female": "Female", "male": "Male", "non_binary": "Non-binary", "undisclosed": "Undisclosed",
               "none": "Not stated"},
    "region": {"flanders": "Flanders", "wallonia": "Wallonia", "brussels": "Brussels", "federal": "Federal",
               "abroad": "Abroad", "none": "Not stated"},
    "discipline": {"natural-sciences": "Natural sciences", "social-sciences": "Social sciences", "ilk": "ILK",
                   "none": "Not stated"},
    "career_stage": {"early": "Early", "mid": "Mid", "senior": "Senior", "none": "Not stated"},
    "ilk": {"yes": "ILK", "no": "Not ILK"},
}


def test_balance_shares_are_exact():
    experts = registry()[:3] + [m.ExpertProfile(7, "Greet Vos", region="flanders", disciplines={"humanities"})]
    b = m.balance(experts, LABELS)
    assert [(s.key, s.count, s.share, s.percent) for s in b["gender"]] == [
        ("female", 2, Fraction(1, 2), 50), ("male", 1, Fraction(1, 4), 25), ("non_binary", 0, Fraction(0), 0),
        ("undisclosed", 0, Fraction(0), 0), ("none", 1, Fraction(1, 4), 25)]
    assert [(s.key, s.count) for s in b["region"]] == [
        ("flanders", 2), ("wallonia", 1), ("brussels", 1), ("federal", 0), ("abroad", 0), ("none", 0)]
    # several disciplines per expert; one not in the labels is shown under its code
    assert [(s.key, s.label, s.count, s.share) for s in b["discipline"]] == [
        ("natural-sciences", "Natural sciences", 2, Fraction(1, 2)),
        ("social-sciences", "Social sciences", 1, Fraction(1, 4)), ("ilk", "ILK", 1, Fraction(1, 4)),
        ("none", "Not stated", 0, Fraction(0)), ("humanities", "humanities", 1, Fraction(1, 4))]
    assert [(s.key, s.count, s.percent) for s in b["career_stage"]] == [
        ("early", 1, 25), ("mid", 1, 25), ("senior", 1, 25), ("none", 1, 25)]
    assert [(s.key, s.count, s.share) for s in b["ilk"]] == [("yes", 1, Fraction(1, 4)), ("no", 3, Fraction(3, 4))]
    assert b["ilk"][1].scaled(140) == 105.0


def test_balance_of_three_rounds_half_up_and_of_nobody_is_empty():
    b = m.balance(registry()[:3], LABELS)
    assert [(s.key, s.share, s.percent) for s in b["gender"] if s.count] == [
        ("female", Fraction(2, 3), 67), ("male", Fraction(1, 3), 33)]
    empty = m.balance([], LABELS)
    assert [(s.key, s.count, s.share) for s in empty["ilk"]] == [("yes", 0, 0), ("no", 0, 0)]
