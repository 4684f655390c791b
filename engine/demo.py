"""Demo data for `sanad serve --demo`: an account for every role, and synthetic GBV cases and incidents.

Everything goes through the service layer, acting as the demo users (a caseworker asks, a
supervisor approves), so each record has a real history, real workflow transitions, referrals and
audit entries, and every answer passed the same validation as answers typed in the browser. Each
record is written in its own transaction.

All people, codes, places, organisations and stories are fictional. The random choices come from
`random.Random(seed)`, so a seed gives the same data on the same day (dates count back from
today); the passwords are always random.
"""

from __future__ import annotations

import random
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.language.model import Module
from engine.runtime.registry import Registry
from engine.service import accounts, assignments, records, referrals, transitions
from engine.service.context import Context
from engine.service.errors import ServiceError
from engine.storage import db
from engine.storage.models import Record, User

AGENCY_CODE = "demo_agency"
AGENCY_NAME = "Demo agency"
TEAMS = (("team_north", "Team north"), ("team_south", "Team south"))

CASE_STAGES = (
    "engagement",
    "assessment",
    "action_planning",
    "action_plan_requested",
    "implementation",
    "follow_up",
    "closure_requested",
    "closed",
)

# (stage the case ends at, the story that leads there). The first eight cover every stage, so any
# `cases` >= 8 reaches them all; a longer run repeats the list.
PROFILES: tuple[tuple[str, str], ...] = (
    ("engagement", "new"),
    ("assessment", "normal"),
    ("action_planning", "normal"),
    ("action_plan_requested", "normal"),
    ("implementation", "referral"),
    ("follow_up", "normal"),
    ("closure_requested", "normal"),
    ("closed", "normal"),
    ("engagement", "partial"),
    ("closed", "declined"),
    ("follow_up", "assigned"),
    ("assessment", "partial"),
    ("action_planning", "sent_back"),
    ("implementation", "normal"),
    ("closure_requested", "declined"),
    ("follow_up", "reopened"),
    ("closed", "no_contact"),
    ("implementation", "revised"),
    ("action_plan_requested", "normal"),
    ("follow_up", "kept_open"),
    ("closed", "withdrawn"),
    ("engagement", "new"),
    ("assessment", "reassess"),
    ("implementation", "emergency_referral"),
    ("closure_requested", "no_contact"),
    ("closed", "transferred"),
    ("follow_up", "referral"),
    ("action_planning", "normal"),
    ("assessment", "normal"),
    ("closed", "normal"),
    ("follow_up", "normal"),
    ("implementation", "normal"),
    ("closure_requested", "normal"),
    ("action_plan_requested", "normal"),
    ("closed", "relocated"),
    ("engagement", "new"),
    ("follow_up", "referral"),
    ("assessment", "normal"),
    ("action_planning", "normal"),
    ("closed", "normal"),
)

# Stories that need the referral recipient (the second caseworker) to be in the other team.
_NORTH_ONLY = {"referral", "emergency_referral", "assigned"}

# How long ago (in days) consent was asked, for each final stage: later stages started earlier.
_START_DAYS = {
    "engagement": (0, 12),
    "assessment": (5, 40),
    "action_planning": (14, 70),
    "action_plan_requested": (14, 70),
    "implementation": (30, 150),
    "follow_up": (60, 240),
    "closure_requested": (90, 420),
    "closed": (120, 540),
}


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    password: str
    label: str


def seed(
    factory: sessionmaker[Session],
    registry: Registry,
    module_id: str = "gbv",
    *,
    seed: int | None = None,
    cheap_hashing: bool = False,
    cases: int = 40,
) -> list[DemoAccount]:
    """Fill an empty database with demo accounts, cases and incidents; the accounts, with their
    passwords (shown once, never stored in clear)."""
    module = registry.module(module_id)
    if module is None:
        raise ValueError(f"there is no module '{module_id}' (loaded: {', '.join(registry.modules) or 'none'})")
    _check_module(module)
    with db.transaction(factory) as session:
        if (
            session.scalar(select(User.id).limit(1)) is not None
            or session.scalar(select(Record.id).limit(1)) is not None
        ):
            raise ValueError("the demo needs an empty database: this one already holds users or records")
    rng = random.Random(seed)
    demo_accounts = _add_accounts(factory, module, cheap_hashing)
    _Seeder(factory, registry, module, rng, {a.username for a in demo_accounts}).run(max(cases, 0))
    return demo_accounts


def _check_module(module: Module) -> None:
    missing = [rt for rt in ("case", "incident") if rt not in module.record_types]
    missing += [f"role {r}" for r in ("caseworker", "supervisor") if r not in module.roles]
    wf = module.workflow_for("case")
    if wf is None or any(s not in wf.states for s in CASE_STAGES):
        missing.append("the case workflow")
    if missing:
        raise ValueError(f"the demo data is written for the GBV module; '{module.id}' lacks: {', '.join(missing)}")


# -- accounts ---------------------------------------------------------------------------------------
def _add_accounts(factory: sessionmaker[Session], module: Module, cheap: bool) -> list[DemoAccount]:
    """One account per role; roles that work within a team (own or group scope) get one per team."""
    ph = accounts.hasher(cheap)
    out: list[DemoAccount] = []
    with db.transaction(factory) as session:
        agency = accounts.ensure_agency(session, AGENCY_CODE)
        agency.name = AGENCY_NAME
        for code, name in TEAMS:
            accounts.ensure_group(session, code, agency).name = name
        for role in module.roles.values():
            if role.scope in ("own", "group"):
                plan = [
                    (role.id if i == 0 else f"{role.id}{i + 1}", [code], f"{role.label}, {name.lower()}")
                    for i, (code, name) in enumerate(TEAMS)
                ]
            else:
                plan = [(role.id, [], f"{role.label}, whole agency")]
            for username, groups, label in plan:
                password = secrets.token_urlsafe(12)
                accounts.add_user(
                    session, ph, module, username, password, role.id, AGENCY_CODE, groups, full_name=f"Demo {label}"
                )
                out.append(DemoAccount(username, role.id, password, label))
    return out


# -- fictional people -----------------------------------------------------------------------------
# language: (female first names, male first names, countries of origin)
def _names(female: str, male: str, countries: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    def split(text: str) -> tuple[str, ...]:
        return tuple(x.strip() for x in text.split(","))

    return split(female), split(male), split(countries)


_NAMES = {
    "arabic": _names(
        "Amal, Layla, Nour, Rania, Samira, Huda, Mariam, Yasmin, Salma, Hana, Rahma, Dalia, أمل, ليلى, سلمى, هدى, نور, مريم",
        "Omar, Youssef, Karim, Tarek, سامي",
        "syria, iraq, sudan, yemen",
    ),
    "french": _names(
        "Amélie, Céline, Élodie, Margaux, Juliette, Manon, Inès, Odile, Josiane, Clarisse, Bernadette, Solange",
        "Julien, Didier, Aimé",
        "democratic_republic_of_the_congo, central_african_republic, mali",
    ),
    "spanish": _names(
        "Lucía, Carmen, Valentina, Ximena, Paola, Rosa, Daniela, Guadalupe, Marisol, Yesenia",
        "Mateo, Andrés, José Luis",
        "venezuela, colombia",
    ),
    "ukrainian": _names("Oksana, Olena, Iryna, Kateryna", "Taras", "ukraine"),
    "burmese": _names("Khin, Thida, Nilar, Hnin", "Aung", "myanmar"),
    "dari": _names("Parwana, Nasrin, Zarghuna, Farishta", "Farid", "afghanistan"),
    "hausa": _names("Amina, Halima, Zainab, Hauwa", "Ibrahim", "nigeria"),
    "south_sudanese": _names("Nyandeng, Achol, Abuk, Nyibol", "Deng", "south_sudan"),
}
_LANGUAGE_WEIGHTS = {
    "arabic": 30,
    "french": 20,
    "spanish": 18,
    "ukrainian": 6,
    "burmese": 6,
    "dari": 7,
    "hausa": 7,
    "south_sudanese": 6,
}

_REFERRAL_CONSENT = {  # kind of service -> its question in 'Consent for referrals'
    "safehouse": "consent_referral_safehouse",
    "health_medical": "consent_referral_health_medical",
    "psychosocial": "consent_referral_psychosocial",
    "legal": "consent_referral_legal",
    "police_security": "consent_referral_police_security",
    "livelihoods": "consent_referral_livelihoods",
    "child_protection": "consent_referral_child_protection",
    "education": "consent_referral_other",
    "cash": "consent_referral_other",
}
_REFER_STEP = {k: "refer_" + v.removeprefix("consent_referral_") for k, v in _REFERRAL_CONSENT.items()}

_PROVIDERS = {
    "safehouse": ("Sample Women's Shelter", "Demo Safe House Network"),
    "health_medical": ("Demo Health Clinic", "Example District Hospital (fictional)"),
    "psychosocial": ("Demo agency, women and girls' safe space",),
    "legal": ("Sample Legal Aid Centre", "Demo Bar Association legal clinic"),
    "police_security": ("Demo police family protection desk",),
    "livelihoods": ("Example Livelihoods Project", "Demo vocational training centre"),
    "child_protection": ("Demo child protection partner",),
    "education": ("Demo community school",),
    "cash": ("Example cash assistance programme",),
}
_GOALS = {
    "safehouse": ("To have a safe place to stay for a while.", "To sleep somewhere I feel safe."),
    "health_medical": ("To see a doctor and get the care I need.", "To get treatment for the pain I still have."),
    "psychosocial": (
        "To feel calmer and sleep better.",
        "To meet other women and not feel alone.",
        "To feel like myself again.",
    ),
    "legal": ("To know my rights and what my options are.", "To get my documents back."),
    "police_security": ("To report to the police, if I decide to.",),
    "livelihoods": ("To earn my own money.", "To learn a trade and support my children."),
    "child_protection": ("For the child to be safe at home.", "For the child to have a trusted adult to turn to."),
    "education": ("To go back to school.", "To finish the school year."),
    "cash": ("To pay the rent for the next months.", "To buy food and basic items."),
}
_ACTIONS = {
    "safehouse": "Caseworker to call the shelter with the survivor and arrange accompaniment.",
    "health_medical": "Accompany the survivor to the clinic; explain what to expect beforehand.",
    "psychosocial": "Weekly individual sessions, then the women's group if the survivor wishes.",
    "legal": "Information session with the legal aid centre; the survivor decides what to do next.",
    "police_security": "Explain the reporting process; accompany the survivor only if {she} decides to report.",
    "livelihoods": "Introduce the survivor to the livelihoods project for the next intake.",
    "child_protection": "Joint visit with the child protection partner, with the caregiver's agreement.",
    "education": "Meet the school with the caregiver to arrange a return at the start of term.",
    "cash": "Submit the survivor code to the cash programme for the next distribution cycle.",
}
# The stages the incident of a case reaches, by the stage of the case.
_FIRST_INCIDENT_STAGES = {
    "engagement": ("partial", "draft"),
    "assessment": ("draft", "complete"),
    "action_planning": ("complete", "reviewed"),
    "action_plan_requested": ("reviewed", "complete"),
    "implementation": ("reviewed", "archived", "reviewed"),
    "follow_up": ("archived", "reviewed"),
    "closure_requested": ("reviewed", "archived"),
    "closed": ("archived",),
}
_PRONOUNS = {
    "female": {"she": "she", "She": "She", "her": "her", "Her": "Her", "her_o": "her"},
    "male": {"she": "he", "She": "He", "her": "his", "Her": "His", "her_o": "him"},
}
_CARETAKERS = ("parent_guardian", "parent_guardian", "relative")
_VIOLENCE_WEIGHTS = {
    "physical_assault": 26,
    "rape": 22,
    "psychological_emotional_abuse": 15,
    "sexual_assault": 12,
    "denial_of_resources_opportunities_or_services": 12,
    "forced_marriage": 10,
}
_INCIDENT_STORIES = {
    "physical_assault": (
        "The survivor said {her} partner hit {her_o} during an argument at home. (Fictional demo account.)",
        "Pushed and hit by a family member after refusing to hand over {her} wages. (Fictional demo account.)",
    ),
    "rape": (
        "The survivor shared that {she} was forced into sex on the way back from the market. (Fictional demo account.)",
        "The survivor said a man {she} knew forced {her_o} into sex; {she} did not want to say more. (Fictional demo account.)",
    ),
    "sexual_assault": (
        "Touched without consent by an older student near the school latrines. (Fictional demo account.)",
        "The survivor described an attempted rape near the water point; {she} got away. (Fictional demo account.)",
    ),
    "forced_marriage": ("The family arranged a marriage against the survivor's will. (Fictional demo account.)",),
    "denial_of_resources_opportunities_or_services": (
        "{Her} partner takes the cash assistance card and refuses money for food and medicine. (Fictional demo account.)",
        "The survivor is not allowed to leave the house to work or to see a doctor. (Fictional demo account.)",
    ),
    "psychological_emotional_abuse": (
        "Repeated threats and insults from {her} partner, who checks {her} phone daily. (Fictional demo account.)",
        "Threatened by the landlord that {her} children would be put on the street. (Fictional demo account.)",
    ),
}
_RELATIONSHIPS = {
    "physical_assault": ("intimate_partner_former_partner", "intimate_partner_former_partner", "family_other"),
    "rape": (
        "no_relation",
        "other_community_member",
        "family_friend_neighbour",
        "supervisor_employer",
        "intimate_partner_former_partner",
    ),
    "sexual_assault": ("schoolmate", "other_community_member", "family_friend_neighbour", "no_relation"),
    "forced_marriage": ("primary_caregiver", "family_other"),
    "denial_of_resources_opportunities_or_services": ("intimate_partner_former_partner", "family_other"),
    "psychological_emotional_abuse": ("intimate_partner_former_partner", "family_other", "cotenant_housemate"),
}
_LOCATIONS = {
    "physical_assault": ("clients_home", "perpetrators_home"),
    "rape": ("road", "forest", "farm", "perpetrators_home", "workplace"),
    "sexual_assault": ("school", "latrine", "water_point", "market"),
    "forced_marriage": ("clients_home",),
    "denial_of_resources_opportunities_or_services": ("clients_home",),
    "psychological_emotional_abuse": ("clients_home", "workplace", "distribution_site"),
}


def _band(age: int) -> str:
    return "0_5" if age <= 5 else "6_11" if age <= 11 else "12_14" if age <= 14 else "15_17" if age <= 17 else "18_plus"


def _years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def _years_between(a: date, b: date) -> int:
    return b.year - a.year - ((b.month, b.day) < (a.month, a.day))


class _Clock:
    """The dates of one story, moving forward from `start` and never past today."""

    def __init__(self, rng: random.Random, start: date, today: date) -> None:
        self.rng, self.now, self.today = rng, start, today

    def after(self, lo: int, hi: int) -> date:
        self.now = min(self.today, self.now + timedelta(days=self.rng.randint(lo, hi)))
        return self.now


@dataclass
class _Survivor:
    """One fictional survivor, and how their answers look form by form."""

    rng: random.Random
    code: str
    team: int
    start: date  # the day consent was asked (the first meeting)
    today: date
    force_psychosocial: bool = False
    unasked_safehouse: bool = False
    taken: set[str] = field(default_factory=set)  # names already used, to vary them
    name: str = ""
    sex: str = "female"  # about one survivor in nine is a man or a boy
    age: int = 30
    dob: date | None = None
    language: str = "arabic"
    displacement: str = "refugee"
    country: str | None = None
    violence: str = "physical_assault"
    risk: str = "medium"
    immediate: bool = False
    self_harm: bool = False
    needs: list[str] = field(default_factory=list)
    consents: dict[str, str] = field(default_factory=dict)
    safety_plan: bool = False
    followups: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)  # the goals of the action plan
    consent_from: str = "survivor"
    consent_reporting: str = "yes"

    def __post_init__(self) -> None:
        rng = self.rng
        self.language = rng.choices(list(_LANGUAGE_WEIGHTS), weights=list(_LANGUAGE_WEIGHTS.values()))[0]
        female, male, countries = _NAMES[self.language]
        pool = male if self.sex == "male" else female
        self.name = rng.choice([n for n in pool if n not in self.taken] or pool)
        self.taken.add(self.name)
        self.age = rng.randint(7, 17) if rng.random() < 0.25 else rng.randint(18, 58)
        if rng.random() < 0.6:  # the date of birth is known
            self.dob = _years_before(self.start, self.age + 1) + timedelta(days=rng.randint(1, 364))
        self.displacement = rng.choices(
            ["refugee", "idp", "resident", "asylum_seeker", "returnee", "stateless_person"], [45, 20, 15, 8, 7, 5]
        )[0]
        self.country = rng.choice(countries) if self.displacement in ("refugee", "asylum_seeker") else None
        kinds = list(_VIOLENCE_WEIGHTS)
        weights = list(_VIOLENCE_WEIGHTS.values())
        if self.child:
            weights = [
                w * (3 if k in ("forced_marriage", "sexual_assault") else 1)
                for k, w in zip(kinds, weights, strict=True)
            ]
        if self.sex == "male":
            weights = [0 if k == "forced_marriage" else w for k, w in zip(kinds, weights, strict=True)]
        self.violence = rng.choices(kinds, weights)[0]
        self.risk = "high" if self.unasked_safehouse else rng.choices(["high", "medium", "low"], [25, 45, 30])[0]
        self.immediate = self.unasked_safehouse or rng.random() < {"high": 0.8, "medium": 0.25, "low": 0.0}[self.risk]
        self.self_harm = rng.random() < 0.12
        self.needs = self._pick_needs()
        self.consents = self._pick_consents()
        self.safety_plan = ((self.risk == "high" or self.immediate) and rng.random() < 0.85) or rng.random() < 0.2
        band = self.band
        self.consent_from = (
            "caregiver"
            if band == "0_5"
            else rng.choice(["caregiver", "survivor_and_caregiver"])
            if band in ("6_11", "12_14")
            else "survivor"
        )
        self.consent_reporting = "yes" if rng.random() < 0.85 else "no"

    # -- who the survivor is -------------------------------------------------------------------------
    @property
    def child(self) -> bool:
        return self.age < 18

    def _pick_needs(self) -> list[str]:
        rng = self.rng
        likely: dict[str, float] = {"psychosocial": 0.9}
        if self.violence in ("rape", "sexual_assault"):
            likely |= {"health_medical": 0.85, "legal": 0.3, "police_security": 0.15}
        elif self.violence == "physical_assault":
            likely |= {"health_medical": 0.5, "legal": 0.35, "livelihoods": 0.3}
        elif self.violence == "forced_marriage":
            likely |= {"legal": 0.3, "education": 0.5 if self.child else 0.0, "livelihoods": 0.0 if self.child else 0.4}
        elif self.violence == "denial_of_resources_opportunities_or_services":
            likely |= {"livelihoods": 0.7, "cash": 0.5, "legal": 0.2}
        else:
            likely |= {"livelihoods": 0.3, "cash": 0.2}
        if self.risk == "high":
            likely["safehouse"] = 0.6
        if self.child:
            likely["child_protection"] = 0.8
            likely.setdefault("education", 0.3)
        needs = [k for k, p in likely.items() if rng.random() < p]
        if self.force_psychosocial and "psychosocial" not in needs:
            needs.append("psychosocial")
        if self.unasked_safehouse and "safehouse" not in needs:
            needs.append("safehouse")
        return needs or ["psychosocial"]

    def _pick_consents(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for need in self.needs:
            key = _REFERRAL_CONSENT.get(need)
            if key is not None:
                out[key] = "yes" if self.rng.random() < 0.85 or need == "psychosocial" else "no"
        if self.force_psychosocial:
            out["consent_referral_psychosocial"] = "yes"
        if "consent_referral_police_security" not in out and self.rng.random() < 0.5:
            out["consent_referral_police_security"] = "no"
        if self.unasked_safehouse:  # to be referred in an emergency, without recorded consent
            out.pop("consent_referral_safehouse", None)
        return out

    @property
    def band(self) -> str:
        return _band(self.age)

    # -- case forms ---------------------------------------------------------------------------------
    def consent_services(self, *, declined: bool = False, partial: bool = False) -> dict[str, Any]:
        rng = self.rng
        band = self.band
        data: dict[str, Any] = {
            "consent_date": self.start.isoformat(),
            "consent_obtained_from": self.consent_from,
            "age_band_at_consent": band,
        }
        if partial:
            return data
        if band in ("0_5", "6_11", "12_14"):
            data["caregiver_consent"] = "yes"
            if band != "0_5":
                data["child_assent"] = "yes"
        if band == "15_17":
            data["child_own_consent"] = "yes"
            safe = rng.random() < 0.6
            data["caregiver_involvement_safe"] = "yes" if safe else "no"
            if safe:
                data["caregiver_involved"] = rng.choice(["yes", "no"])
            else:
                data["caregiver_not_involved_reason"] = (
                    "The young person fears the caregiver would stop {her_o} leaving the house."
                )
        data["confidentiality_explained"] = "yes"
        applies = "yes" if self.child else rng.choice(["no", "no", "unknown"])
        data["mandatory_reporting_applies"] = applies
        if applies == "yes":
            data["mandatory_reporting_informed"] = "yes"
        data["consent_for_services"] = "no" if declined else "yes"
        if declined:
            data["consent_declined_notes"] = rng.choice(
                [
                    "Wanted information about the clinic only; may come back later.",
                    "Prefers to get support from {her} family for now. Knows where to find us.",
                ]
            )
        data["consent_reporting"] = self.consent_reporting
        return data

    def consent_referrals(self, when: date) -> dict[str, Any]:
        data: dict[str, Any] = {
            "consent_referrals_date": when.isoformat(),
            "consent_referrals_given_by": self.consent_from,
            **self.consents,
            "consent_share_identity": "yes" if self.rng.random() < 0.4 else "no",
        }
        if self.consents.get("consent_referral_other") == "yes":
            other = [n for n in self.needs if n in ("education", "cash")]
            data["consent_referral_other_details"] = " and ".join(
                {"education": "education support", "cash": "cash assistance"}[n] for n in other
            )
        if self.rng.random() < 0.25:
            data["information_not_to_share"] = "Where {she} is staying now."
        return data

    def survivor_information(self, *, partial: bool = False) -> dict[str, Any]:
        rng = self.rng
        data: dict[str, Any] = {"survivor_code": self.code, "sex": self.sex}
        if rng.random() < 0.85:
            data["name"] = self.name
        if partial:
            return data
        if self.dob is not None:
            data["date_of_birth"] = self.dob.isoformat()
        else:
            data["age_entered"] = self.age
            data["age_estimated"] = rng.choice(["yes", "no"])
        data["ethnicity"] = rng.choice(["group_1", "group_2", "group_3", "prefer_not_to_say"])
        data["nationality"] = (
            rng.choice(["refugee_country_a", "refugee_country_b"])
            if self.country
            else "stateless"
            if self.displacement == "stateless_person"
            else "national"
        )
        if self.country:
            data["country_of_origin"] = self.country
        if not self.child:
            data["marital_status"] = rng.choice(["single", "married_cohabitating", "divorced_separated", "widowed"])
            if rng.random() < 0.5:
                data["occupation"] = rng.choice(
                    ["Day labourer", "Tailor", "Market trader", "Teacher", "Farmer", "Cleaner"]
                )
        data["displacement_status"] = self.displacement
        data["disability_type"] = rng.choices(["no", "physical_disability", "mental_disability"], [85, 10, 5])[0]
        if self.child:
            data["unaccompanied_separated_status"] = rng.choices(
                ["no", "separated_child", "unaccompanied_minor"], [80, 15, 5]
            )[0]
            data["lives_alone"] = "no"
            data["caretaker_relationship"] = rng.choice(_CARETAKERS)
            data["caretaker_informed"] = "yes"
        region = rng.choice(["region_north", "region_east"] if self.team == 0 else ["region_south", "region_east"])
        data["residence_admin1"] = region
        data["residence_admin2"] = rng.choice(
            {
                "region_north": ["north_hills", "north_lake"],
                "region_south": ["south_coast", "south_plains"],
                "region_east": ["east_valley", "east_border"],
            }[region]
        )
        if rng.random() < 0.4:
            data["address"] = f"Block {rng.randint(1, 24)}, Demo Camp {('North', 'South')[self.team]} (fictional)"
        safe = rng.random() < 0.6
        data["safe_to_contact"] = "yes" if safe else "no"
        if safe:
            method = rng.choice(["phone", "phone", "in_person_at_centre", "via_trusted_person", "home_visit"])
            data["safe_contact_method"] = method
            if method == "phone":
                data["phone"] = f"+000 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
                data["phone_message_safe"] = rng.choice(["yes", "no"])
            if method == "via_trusted_person":
                data["trusted_person_contact"] = (
                    "Through {her} sister at the community centre; say only that it is about the sewing class."
                )
            data["safe_contact_time"] = rng.choice(
                ["Weekday mornings", "After 4 pm, never at weekends", "Tuesdays at the centre"]
            )
        return data

    def assessment(self, when: date, *, partial: bool = False) -> dict[str, Any]:
        rng = self.rng
        data: dict[str, Any] = {"assessment_date": when.isoformat(), "needs_identified": list(self.needs)}
        if partial:
            return data
        data["risk_level"] = self.risk
        data["immediate_safety_concerns"] = "yes" if self.immediate else "no"
        if self.immediate:
            data["immediate_safety_details"] = rng.choice(
                [
                    "Fears the perpetrator will come back to the shelter where {she} stays.",
                    "Was threatened after speaking to a community leader.",
                    "Does not feel safe walking to the water point alone.",
                ]
            )
        data["recent_sexual_violence"] = (
            rng.choice(["yes", "no", "unknown"]) if self.violence in ("rape", "sexual_assault") else "no"
        )
        if "health_medical" in self.needs:
            data["health_needs"] = rng.choice(
                ["Pain and trouble sleeping.", "Would like a general check-up and information on contraception."]
            )
        if "psychosocial" in self.needs:
            data["psychosocial_needs"] = rng.choice(
                ["Feels anxious and isolated; would like to talk to someone.", "Has nightmares and avoids going out."]
            )
        if "legal" in self.needs or "police_security" in self.needs:
            data["legal_needs"] = rng.choice(
                [
                    "Wants to know {her} options, without committing to anything yet.",
                    "Needs help replacing {her} identity documents.",
                ]
            )
        if self.child:
            data["child_considerations"] = (
                "The child wants to stay with {her} aunt, who is supportive. Keep the caregiver informed."
            )
        data["self_harm_risk"] = "yes" if self.self_harm else "no"
        if self.self_harm:
            data["self_harm_action_taken"] = (
                "Stayed with the survivor, agreed a plan for the next days, and informed the supervisor the same day."
            )
        data["assessment_notes"] = rng.choice(
            [
                "Demo record. Strong support from a neighbour; attends the women's group.",
                "Demo record. Resourceful and clear about what {she} wants; worried about {her} children.",
                "Demo record. First time telling anyone; wants to go step by step.",
            ]
        )
        data["assessment_duration"] = rng.choice(["31_60_min", "1_2_hours", "16_30_min"])
        return data

    def safety_plan_answers(self, when: date) -> dict[str, Any]:
        if not self.safety_plan:
            if self.risk == "high" or self.immediate or self.rng.random() < 0.5:
                return {"safety_plan_needed": "no"}
            return {}
        return {
            "safety_plan_needed": "yes",
            "safety_plan_developed_with_survivor": "yes",
            "safety_plan_date": when.isoformat(),
            "safety_plan_main_concern": "Being found by the perpetrator on the way to the distribution site.",
            "safety_plan_details": "Keeps documents and a little money with a neighbour; goes to distributions with {her} cousin.",
            "trusted_people": "{Her} cousin and the neighbour in the next block.",
            "safe_places": "The women's safe space; the health post.",
            "emergency_contacts": "The demo agency hotline (fictional); the camp security focal point.",
            "safety_signal": "A text saying 'the bread is ready'.",
            "safety_plan_duration": self.rng.choice(["16_30_min", "31_60_min"]),
        }

    def service_rows(self, agreed: date, needs: Sequence[str]) -> list[dict[str, Any]]:
        rng = self.rng
        rows: list[dict[str, Any]] = []
        for need in needs:
            row: dict[str, Any] = {
                "service_type": need,
                "goal": rng.choice(_GOALS[need]),
                "action": _ACTIONS[need],
                "responsible": rng.choice(["caseworker", "survivor", "service_provider"]),
                "due_date": (agreed + timedelta(days=rng.randint(7, 60))).isoformat(),
            }
            consent = self.consents.get(_REFERRAL_CONSENT[need])
            if need == "psychosocial":
                row |= {"referral_needed": "no", "referral_status": "provided_by_own_agency"}
                row["service_provider"] = _PROVIDERS[need][0]
            elif need == "safehouse" and self.unasked_safehouse:
                row |= {"referral_needed": "yes", "referral_status": "service_unavailable"}
            elif consent == "yes":
                status = "referred" if rng.random() < 0.85 else "service_unavailable"
                row |= {"referral_needed": "yes", "referral_status": status}
                if status == "referred":
                    when = min(self.today, agreed + timedelta(days=rng.randint(0, 3)))
                    row |= {"referral_date": when.isoformat(), "service_provider": rng.choice(_PROVIDERS[need])}
            else:
                row |= {"referral_needed": "no", "referral_status": "declined_by_survivor"}
            rows.append(row)
        return rows

    def action_plan(self, agreed: date, *, agreed_yes: bool = True) -> dict[str, Any]:
        self.rows = self.service_rows(agreed, self.needs)
        data: dict[str, Any] = {"plan_agreed": "yes" if agreed_yes else "no", "services": [dict(r) for r in self.rows]}
        if agreed_yes:
            data["action_plan_agreed_date"] = agreed.isoformat()
            data["plan_summary"] = (
                f"{len(self.needs)} goal(s) agreed with the survivor; next review at the first follow-up."
            )
        return data

    def followup(self, when: date, *, last: bool, needs_met: bool, new_need: str | None = None) -> dict[str, Any]:
        rng = self.rng
        n = len(self.followups)
        done = "met" if needs_met else rng.choice(["in_progress", "met"] if n else ["in_progress"])
        row: dict[str, Any] = {
            "followup_date": when.isoformat(),
            "followup_mode": rng.choice(["in_person", "in_person", "phone", "home_visit", "accompaniment"]),
            "followup_risk_level": "low" if needs_met else rng.choice(["medium", "low"] if n else [self.risk]),
            "progress_safety": done if "safehouse" in self.needs or self.safety_plan else "not_applicable",
            "progress_health": done if "health_medical" in self.needs else "not_applicable",
            "progress_psychosocial": done if "psychosocial" in self.needs else "not_applicable",
            "progress_justice": done if {"legal", "police_security"} & set(self.needs) else "not_applicable",
            "new_needs_shared": "yes" if new_need else "no",
            "survivor_needs_met": "yes" if needs_met else "no",
        }
        if self.safety_plan:
            row["safety_plan_reviewed_at_followup"] = "yes"
        if new_need:
            row["new_needs"] = [new_need]
            row["new_needs_description"] = "Would like help to earn an income now that things are calmer."
        if needs_met:
            row["recommend_case_closed"] = "yes" if last else "no"
        else:
            row["next_followup_date"] = (when + timedelta(days=rng.randint(7, 28))).isoformat()
        row["followup_notes"] = rng.choice(
            [
                "Feels more confident; attends the group every week.",
                "Some difficult days, but sleeping better.",
                "Went to the clinic with the caseworker; wants to continue.",
                "Busy with the children; agreed to a short phone call next time.",
            ]
        )
        self.followups.append(row)
        return {"follow_ups": [dict(r) for r in self.followups]}

    def closure(self, reason: str, when: date, **extra: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "closure_reason": reason,
            "closure_case_file_updated": "yes",
            "closure_date": when.isoformat(),
        }
        if reason != "no_contact":
            data |= {"closure_needs_met": "yes", "closure_resume_notification": "yes"}
            if self.safety_plan:
                data["closure_safety_plan_reviewed"] = "yes"
        data |= extra
        data["closure_assessment"] = {
            "needs_met": "Goals met; the survivor feels safer and knows {she} can come back at any time.",
            "survivor_request": "The survivor asked to close the case; {she} knows {she} can come back at any time.",
            "no_contact": "No safe contact possible despite agreed attempts; case file up to date.",
            "survivor_relocated": "The survivor moved to another region; {she} has the hotline number.",
            "transferred": "Transferred, with the survivor's agreement, to a partner closer to {her} new home.",
        }[reason]
        return data


# -- running the stories through the service layer ---------------------------------------------------
@dataclass
class _Rec:
    record_type: str
    id: str
    version: int
    stage: str | None

    def apply(self, view: dict[str, Any]) -> None:
        self.version, self.stage = view["version"], view["stage"]


@dataclass(frozen=True)
class _Team:
    index: int
    caseworker: str
    supervisor: str
    caseworker_code: str


class _Seeder:
    def __init__(
        self, factory: sessionmaker[Session], registry: Registry, module: Module, rng: random.Random, users: set[str]
    ) -> None:
        self.factory, self.module, self.rng = factory, module, rng
        self.policy = registry.policies[module.id]
        self.today = date.today()
        self.users = users
        self.teams = [
            _Team(0, "caseworker", "supervisor", "CW-N01"),
            _Team(
                1,
                "caseworker2" if "caseworker2" in users else "caseworker",
                "supervisor2" if "supervisor2" in users else "supervisor",
                "CW-S02",
            ),
        ]
        self.receiver = self.teams[1].caseworker  # receives referrals and the assignment
        self.manager = "cm_manager" if "cm_manager" in users else None
        self.incident_no = rng.randint(100, 800)
        self.assigned = False
        self.names: set[str] = set()
        self.turns: Counter[str] = Counter()
        self.sex = "female"  # of the survivor whose records are being written
        self.referrals = 0

    # -- helpers ----------------------------------------------------------------------------------------
    def ctx(self, session: Session, username: str) -> Context:
        user = accounts.find_user(session, username)
        assert user is not None
        return Context(
            session, user, accounts.actor_for(session, user, self.module), self.module, self.policy, ip="demo"
        )

    def words(self, value: Any) -> Any:
        """The texts, with the pronouns of the current survivor."""
        if isinstance(value, str):
            return value.format_map(_PRONOUNS[self.sex]) if "{" in value else value
        if isinstance(value, list):
            return [self.words(v) for v in value]
        if isinstance(value, dict):
            return {k: self.words(v) for k, v in value.items()}
        return value

    def create(self, ctx: Context, record_type: str, data: dict[str, Any], link_to: str | None = None) -> _Rec:
        view, _ = records.create(ctx, record_type, self.words(data), link_to=link_to)
        return _Rec(record_type, view["id"], view["version"], view["stage"])

    def update(self, ctx: Context, rec: _Rec, data: dict[str, Any]) -> None:
        rec.apply(records.update(ctx, rec.record_type, rec.id, rec.version, self.words(data)))

    def step(self, ctx: Context, rec: _Rec, transition: str, comment: str | None = None) -> None:
        rec.apply(transitions.transition(ctx, rec.record_type, rec.id, transition, self.words(comment), None))

    # -- the whole run --------------------------------------------------------------------------------
    def run(self, n: int) -> None:
        codes = self.rng.sample(range(1, 10000), min(max(n, 1), 9999))
        for i in range(n):
            stage, story = PROFILES[i % len(PROFILES)]
            team = self.teams[0] if story in _NORTH_ONLY or i % 5 not in (1, 3) else self.teams[1]
            low, high = _START_DAYS[stage]
            if story in ("no_contact", "reopened", "revised", "kept_open"):
                low = max(low, 100)
                high = max(high, 200)
            start = self.today - timedelta(days=self.rng.randint(low, high))
            sv = _Survivor(
                self.rng,
                f"GBV-{codes[i % len(codes)]:04d}",
                team.index,
                start,
                self.today,
                sex="male" if i % 9 == 4 else "female",
                force_psychosocial=story == "referral",
                unasked_safehouse=story == "emergency_referral",
                taken=self.names,
            )
            clock = _Clock(self.rng, start, self.today)
            self.sex = sv.sex
            try:
                with db.transaction(self.factory) as session:
                    case = self.case(session, team, sv, clock, stage, story)
                if story == "declined":
                    continue
                count = 2 if self.rng.random() < 0.22 else 1
                for k in range(count):
                    with db.transaction(self.factory) as session:
                        self.incident(session, team, sv, case, stage, second=k == 1)
            except ServiceError as exc:  # e.g. an overlay that asks for more than the GBV module
                details = "; ".join(f"{k}: {v}" for k, v in exc.details.items())
                raise ValueError(
                    f"the demo data does not fit the module '{self.module.id}' (case {i + 1}, heading for the "
                    f"stage '{stage}'): {exc.message}" + (f" ({details})" if details else "")
                ) from exc

    # -- a case ---------------------------------------------------------------------------------------------
    def case(self, session: Session, team: _Team, sv: _Survivor, clock: _Clock, target: str, story: str) -> _Rec:
        cw, sup = self.ctx(session, team.caseworker), self.ctx(session, team.supervisor)
        rng = self.rng
        if story == "declined":
            rec = self.create(cw, "case", sv.consent_services(declined=True))
            self.update(cw, rec, sv.closure("survivor_request", clock.after(0, 2)))
            self.step(cw, rec, "request_early_closure", "The person did not want case management for now.")
            if target == "closed":
                self.approve_closure(sup, rec)
            return rec
        rec = self.create(cw, "case", sv.consent_services(partial=story == "partial" and target == "engagement"))
        if target == "engagement":
            if story != "partial" and rng.random() < 0.5:
                self.update(cw, rec, sv.consent_referrals(clock.after(0, 2)))
            return rec
        self.update(cw, rec, sv.consent_referrals(clock.after(0, 2)))
        self.step(cw, rec, "start_assessment")
        if story == "no_contact":
            self.update(cw, rec, sv.survivor_information(partial=True))
            last_contact = clock.after(1, 5)
            closed = clock.after(35, 60)
            days = max(30, (closed - last_contact).days)
            self.update(cw, rec, sv.closure("no_contact", closed, days_without_contact=days))
            self.step(cw, rec, "request_early_closure", f"No safe contact for {days} days despite the agreed attempts.")
            if target == "closed":
                self.approve_closure(sup, rec)
            return rec
        self.update(cw, rec, sv.survivor_information(partial=story == "partial"))
        if story == "partial":
            return rec
        self.update(cw, rec, sv.assessment(clock.after(1, 7), partial=target == "assessment" and rng.random() < 0.4))
        if story == "reassess":
            self.update(cw, rec, sv.closure("survivor_request", clock.after(1, 4)))
            self.step(cw, rec, "request_early_closure", "The survivor said {she} no longer wants support.")
            self.step(
                sup,
                rec,
                "reject_closure_reassess",
                "The survivor called back the same day: {she} wants to continue. Please review {her} needs again.",
            )
            self.update(cw, rec, _cleared_closure())
            return rec
        if target == "assessment":
            return rec
        self.step(rng.choice([cw, cw, sup]), rec, "start_action_planning")
        if story == "relocated":
            self.update(cw, rec, sv.closure("survivor_relocated", clock.after(3, 20)))
            self.step(cw, rec, "request_early_closure", "The survivor moved to another region with {her} family.")
            self.approve_closure(sup, rec)
            return rec
        plan_day = clock.after(2, 10)
        safety = sv.safety_plan_answers(plan_day)
        if safety:
            self.update(cw, rec, safety)
        if target == "action_planning" and story == "normal":
            self.update(cw, rec, sv.action_plan(plan_day, agreed_yes=False))
            return rec
        self.update(cw, rec, sv.action_plan(plan_day))
        self.step(cw, rec, "request_action_plan_approval", "Plan agreed with the survivor.")
        if story == "sent_back":
            self.step(
                sup,
                rec,
                "reject_action_plan",
                "Please agree a due date for each goal with the survivor and add the health referral {she} asked about.",
            )
            self.update(cw, rec, {"plan_summary": "Being revised with the survivor after the supervisor's review."})
            return rec
        if target == "action_plan_requested":
            return rec
        self.step(sup, rec, "approve_action_plan", rng.choice(["Approved.", "Approved; good plan.", None]))
        clock.after(1, 5)
        if story == "emergency_referral":
            self.emergency_referral(session, sup, rec, sv, clock)
        if story == "referral" and target == "implementation":
            self.refer(session, cw, rec, "psychosocial", accept=self.referrals % 2 == 0)
        if story == "revised":
            self.step(cw, rec, "revise_action_plan", "The survivor asked for help to earn an income.")
            agreed = clock.after(1, 6)
            sv.needs.append("livelihoods")
            sv.consents["consent_referral_livelihoods"] = "yes"
            self.update(cw, rec, {"consent_referral_livelihoods": "yes"})
            sv.rows += sv.service_rows(agreed, ["livelihoods"])
            self.update(cw, rec, {"services": [dict(r) for r in sv.rows]})
            self.step(cw, rec, "request_action_plan_approval", "Revised plan: livelihoods goal added.")
            self.step(sup, rec, "approve_action_plan", "Approved.")
        if target == "implementation":
            return rec
        # follow-up
        visits = rng.randint(1, 3)
        for v in range(visits):
            self.update(cw, rec, sv.followup(clock.after(7, 30), last=False, needs_met=False))
            if v == 0:
                self.step(cw, rec, "start_follow_up")
        if story == "referral":
            self.refer(session, cw, rec, "psychosocial", accept=self.referrals % 2 == 0)
        if story == "assigned" and self.manager and not self.assigned:
            mgr = self.ctx(session, self.manager)
            assignments.assign(
                mgr, "case", rec.id, self.receiver, "Covering follow-ups while the caseworker is on leave."
            )
            self.assigned = True
        if target == "follow_up" and story not in ("reopened", "kept_open"):
            return rec
        if story == "withdrawn":
            self.update(
                cw,
                rec,
                {
                    "consent_withdrawn": "yes",
                    "consent_withdrawn_date": clock.after(3, 14).isoformat(),
                    "consent_withdrawn_notes": "Asked not to be contacted again; will come to the centre if {she} needs us.",
                },
            )
            self.update(cw, rec, sv.closure("survivor_request", clock.after(0, 3)))
            self.step(cw, rec, "request_closure", "Consent withdrawn; closing without further contact.")
        else:
            self.update(cw, rec, sv.followup(clock.after(7, 30), last=True, needs_met=True))
            if story == "transferred":
                extra = {"transferred_to": "Example Partner Organisation (fictional)", "transfer_consent": "yes"}
                self.update(cw, rec, sv.closure("transferred", clock.after(2, 10), **extra))
            else:
                self.update(cw, rec, sv.closure("needs_met", clock.after(2, 10)))
            self.step(cw, rec, "request_closure", "Closure agreed with the survivor at the last follow-up.")
        if story == "kept_open":
            self.step(
                sup, rec, "reject_closure", "{She} mentioned new worries at the last visit; one more follow-up first."
            )
            self.update(cw, rec, _cleared_closure())
            self.update(cw, rec, sv.followup(clock.after(3, 14), last=False, needs_met=False))
            return rec
        if target == "closure_requested":
            return rec
        self.approve_closure(sup, rec)
        if story != "withdrawn":
            self.feedback(sup, rec, clock)
        if story == "reopened":
            self.step(
                cw, rec, "reopen", "The survivor came back: {her} ex-partner has started contacting {her_o} again."
            )
            self.update(cw, rec, sv.followup(clock.after(10, 40), last=False, needs_met=False))
        return rec

    def approve_closure(self, sup: Context, rec: _Rec) -> None:
        notes = self.rng.choice(
            ["Checklist reviewed with the caseworker. Agree to close.", "Reviewed; closure is appropriate."]
        )
        self.update(sup, rec, {"supervisor_review_notes": notes})
        self.step(sup, rec, "approve_closure", "Closure approved.")

    def feedback(self, sup: Context, rec: _Rec, clock: _Clock) -> None:
        rng = self.rng
        if rng.random() < 0.3:
            self.update(sup, rec, {"feedback_agreed": "no"})
            return
        rating = ["strongly_agree", "agree", "agree", "strongly_agree", "disagree", "prefers_not_to_say"]
        safer = rng.random() < 0.85
        data: dict[str, Any] = {
            "feedback_agreed": "yes",
            "feedback_date": clock.after(0, 5).isoformat(),
            "feedback_respondent": "survivor",
            "feedback_administered_by": "other_staff",
            "feedback_respected": rng.choice(rating),
            "feedback_confidentiality": rng.choice(rating),
            "feedback_informed_of_options": rng.choice(rating),
            "feedback_comfortable": rng.choice(rating),
            "feels_safer": "yes" if safer else "no",
            "would_recommend": "yes" if rng.random() < 0.9 else "no",
        }
        if not safer:
            data["feels_safer_explain"] = "Knowing the shelter has space if I need it."
        if rng.random() < 0.5:
            data["feedback_comments"] = rng.choice(["Thank you for listening.", "The waiting room was too public."])
        self.update(sup, rec, data)

    def refer(self, session: Session, ctx: Context, rec: _Rec, need: str, *, accept: bool | None) -> None:
        forms = ["consent_referrals", "survivor_assessment", "action_plan"]
        view = referrals.refer(
            ctx,
            "case",
            rec.id,
            _REFER_STEP[need],
            self.receiver,
            forms,
            "For the survivors' support group the survivor asked to join.",
            None,
        )
        rec.apply(view)
        self.referrals += 1
        if accept is None:
            return
        to = self.ctx(session, self.receiver)
        for ref in referrals.referrals_for(to):
            if ref["record_id"] == rec.id and ref["status"] == "pending":
                if accept:
                    referrals.respond(to, ref["id"], True, "Accepted; first group session next week.")
                break

    def emergency_referral(self, session: Session, sup: Context, rec: _Rec, sv: _Survivor, clock: _Clock) -> None:
        """A supervisor refers to a shelter without recorded consent, in an emergency, with a reason."""
        when = clock.after(0, 2)
        reason = self.words(
            "The survivor was in immediate danger and could not be reached safely to ask; {she} will be told as soon as it is safe."
        )
        rows = [dict(r) for r in sv.rows if r["service_type"] != "safehouse"]
        rows.append(
            {
                "service_type": "safehouse",
                "goal": "To have a safe place to stay tonight.",
                "action": "Emergency placement arranged by the supervisor.",
                "responsible": "caseworker",
                "referral_needed": "yes",
                "referral_status": "referred",
                "referral_without_consent_reason": reason,
                "referral_date": when.isoformat(),
                "service_provider": _PROVIDERS["safehouse"][0],
            }
        )
        self.update(sup, rec, {"services": rows})
        rec.apply(
            referrals.refer(
                sup,
                "case",
                rec.id,
                "refer_safehouse",
                self.receiver,
                ["survivor_assessment", "safety_plan"],
                "Emergency shelter placement tonight.",
                reason,
            )
        )
        self.referrals += 1
        to = self.ctx(session, self.receiver)
        for ref in referrals.referrals_for(to):
            if ref["record_id"] == rec.id and ref["status"] == "pending":
                referrals.respond(to, ref["id"], True, "Placement confirmed.")
                break

    # -- an incident ------------------------------------------------------------------------------------
    def incident(self, session: Session, team: _Team, sv: _Survivor, case: _Rec, stage: str, *, second: bool) -> None:
        rng = self.rng
        cw, sup = self.ctx(session, team.caseworker), self.ctx(session, team.supervisor)
        if second:
            target = rng.choice(["draft", "complete", "reviewed"])
            interview = min(self.today, sv.start + timedelta(days=rng.randint(3, 40)))
            violence = rng.choice(
                ["psychological_emotional_abuse", "physical_assault", "denial_of_resources_opportunities_or_services"]
            )
            delay = rng.randint(60, 400)
        else:
            # taken in turn, so that every stage of the incident workflow is reached
            options = _FIRST_INCIDENT_STAGES[stage]
            target = options[self.turns[stage] % len(options)]
            self.turns[stage] += 1
            interview = sv.start
            violence = sv.violence
            delay = rng.choice([rng.randint(0, 3), rng.randint(4, 14), rng.randint(15, 60), rng.randint(60, 300)])
        # within the last 18 months, and never before the survivor's fifth birthday
        happened = max(interview - timedelta(days=delay), self.today - timedelta(days=548))
        if sv.dob is not None and happened < sv.dob + timedelta(days=365 * 5):
            happened = interview
        delay = (interview - happened).days
        age = _years_between(sv.dob, happened) if sv.dob else max(sv.age - delay // 365, 0)
        self.incident_no += 1
        data: dict[str, Any] = {
            "incident_code": f"INC-{interview.year}-{self.incident_no:04d}",
            "survivor_code": sv.code,
            "caseworker_code": team.caseworker_code,
            "date_of_interview": interview.isoformat(),
            "incident_date": happened.isoformat(),
            "incident_date_estimated": "yes" if delay > 30 and rng.random() < 0.6 else "no",
            "survivor_sex": sv.sex,
            "consent_reporting": sv.consent_reporting,
        }
        if sv.dob is not None:
            data["survivor_date_of_birth"] = sv.dob.isoformat()
            data["survivor_dob_estimated"] = rng.choice(["yes", "no", "no"])
        else:
            data["survivor_age_entered"] = age
        if age >= 18:
            data["survivor_marital_status"] = rng.choice(
                ["single", "married_cohabitating", "divorced_separated", "widowed"]
            )
        data["survivor_displacement_status"] = sv.displacement
        data["survivor_disability"] = "no"
        if age < 18:
            data["survivor_unaccompanied_separated"] = "no"
        if sv.country:
            data["survivor_country_of_origin"] = sv.country
        data["survivor_ethnicity"] = rng.choice(["group_1", "group_2", "group_3", "prefer_not_to_say"])
        data["incident_timeofday"] = rng.choice(["morning", "afternoon", "evening_night", "evening_night", "unknown"])
        data["displacement_incident"] = (
            rng.choice(["during_refuge", "during_flight", "post_displacement"])
            if sv.displacement in ("refugee", "asylum_seeker", "idp")
            else "not_displaced"
        )
        data["incident_location_type"] = rng.choice(_LOCATIONS[violence])
        region = rng.choice(["region_north", "region_east"] if team.index == 0 else ["region_south", "region_east"])
        data["incident_admin1"] = region
        data["incident_admin2"] = rng.choice(
            {
                "region_north": ["north_hills", "north_lake"],
                "region_south": ["south_coast", "south_plains"],
                "region_east": ["east_valley", "east_border"],
            }[region]
        )
        data["incident_camp_town"] = rng.choice(["Demo Camp North", "Demo Camp South", "Sampleville", "Exampletown"])
        data["incident_description"] = rng.choice(_INCIDENT_STORIES[violence])
        data["service_referred_from"] = rng.choice(
            [
                "self_referral",
                "self_referral",
                "health_medical",
                "community_or_camp_leader",
                "psychosocial",
                "other_humanitarian",
            ]
            + (["teacher_school_official"] if age < 18 else [])
        )
        if target == "partial":
            data.pop("survivor_sex")
            self.create(cw, "incident", data, link_to=case.id)
            return
        inc = self.create(cw, "incident", data, link_to=case.id)
        self.update(cw, inc, self.violence_answers(sv, violence, age, happened, interview))
        if target == "draft":
            return
        self.step(cw, inc, "mark_complete")
        if target == "complete":
            return
        self.step(sup, inc, "approve_review", rng.choice(["Checked against the classification tool.", None]))
        if rng.random() < 0.15:
            self.step(sup, inc, "return_for_corrections", "Please check the incident date with the survivor.")
            self.update(cw, inc, {"incident_date_estimated": "yes"})
            self.step(cw, inc, "mark_complete", "Date confirmed as approximate.")
            self.step(sup, inc, "approve_review")
        if target == "archived":
            self.step(sup, inc, "archive")

    def violence_answers(
        self, sv: _Survivor, violence: str, age: int, happened: date, interview: date
    ) -> dict[str, Any]:
        rng = self.rng
        sexual = violence in ("rape", "sexual_assault")
        data: dict[str, Any] = {
            "gbv_type": violence,
            "harmful_traditional_practice": "child_early_marriage"
            if violence == "forced_marriage" and age < 18
            else "no",
            "goods_money_exchanged": "yes" if sexual and rng.random() < 0.1 else "no",
            "abduction_type": "trafficked" if violence == "rape" and rng.random() < 0.05 else "none",
        }
        elsewhere = rng.choices(["no", "non_gbvims_org", "gbvims_org"], [75, 20, 5])[0]
        data["gbv_reported_elsewhere"] = elsewhere
        if elsewhere != "no":
            data["reported_elsewhere_org_type"] = rng.choice(["health_medical", "police_security", "psychosocial"])
        previous = violence in ("physical_assault", "psychological_emotional_abuse") and rng.random() < 0.6
        data["gbv_previous_incidents"] = "yes" if previous else rng.choice(["no", "no", None])
        if previous:
            data["previous_incidents_count"] = rng.randint(2, 12)
        data = {k: v for k, v in data.items() if v is not None}
        # alleged perpetrators
        count = rng.choices(["one", "two", "unknown"], [85, 10, 5] if sexual else [97, 3, 0])[0]
        rows = []
        for i in range({"one": 1, "two": 2, "unknown": 1}[count]):
            relationship = rng.choice(_RELATIONSHIPS[violence])
            rows.append(
                {
                    "main_perpetrator": "yes" if i == 0 else "no",
                    "perpetrator_sex": "male" if rng.random() < 0.93 else "female",
                    "perpetrator_age_group": rng.choice(["18_25", "26_40", "26_40", "41_60", "unknown"]),
                    "perpetrator_relationship": relationship,
                    "perpetrator_occupation": rng.choice(
                        ["unemployed", "farmer", "trader_business", "unknown", "armed_forces_group"]
                    ),
                    "perpetrator_nationality": rng.choice(["national", "refugee_country_a", "other"]),
                    "perpetrator_previous_incident": "yes"
                    if relationship == "intimate_partner_former_partner"
                    else rng.choice(["no", "unknown"]),
                }
            )
        data["number_of_perpetrators"] = count
        data["perpetrators"] = rows
        # referrals
        ref_day = min(self.today, interview + timedelta(days=rng.randint(0, 2)))
        if ref_day < happened:
            ref_day = happened

        def status(kind: str, wanted: bool) -> None:
            choice = rng.choice(["referred", "referred", "declined_by_survivor"]) if wanted else "not_applicable"
            data[f"service_{kind}_referral"] = choice
            if choice == "referred":
                data[f"service_{kind}_referral_date"] = ref_day.isoformat()

        status("medical", sexual or (violence == "physical_assault" and "health_medical" in sv.needs))
        data["service_psycho_referral"] = "provided_by_own_agency"
        status("safehouse", "safehouse" in sv.needs)
        legal = rng.choice(["yes", "no", "undecided", "undecided"])
        data["pursue_legal_action"] = legal
        status("legal", legal == "yes" or "legal" in sv.needs)
        status("police", legal == "yes" and sv.consents.get("consent_referral_police_security") != "no")
        status("livelihoods", "livelihoods" in sv.needs)
        if age < 18:
            status("protection", True)
        if rng.random() < 0.3:
            data["referral_notes"] = "Would like legal information later, once {she} feels ready."
        return data


def _cleared_closure() -> dict[str, Any]:
    """Answers that empty the closure form again, when the case stays open."""
    keys = (
        "closure_reason",
        "closure_needs_met",
        "closure_resume_notification",
        "closure_case_file_updated",
        "closure_safety_plan_reviewed",
        "closure_date",
        "closure_assessment",
    )
    return dict.fromkeys(keys)
