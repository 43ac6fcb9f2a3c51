"""Message contracts of the city contact centre."""

from contracts.case_created import Case, CaseCreated
from contracts.case_routed import TRIAGE_UNIT_ID, CaseRouted, DistrictSource, RoutingReason
from contracts.case_status_changed import CaseStatusChanged
from contracts.codec import ContractError, decode, encode, headers_dict, traceparent_for
from contracts.common import (
    Actor,
    ActorKind,
    CaseDetails,
    CaseKind,
    CaseStatus,
    CategoryRef,
    Channel,
    Consent,
    Language,
    Location,
    Reporter,
)
from contracts.envelope import Event, utcnow
from contracts.topics import CASE_CREATED, CASE_ROUTED, CASE_STATUS_CHANGED, TOPICS, Topic, dead_letter_topic

__all__ = [
    "CASE_CREATED",
    "CASE_ROUTED",
    "CASE_STATUS_CHANGED",
    "TOPICS",
    "TRIAGE_UNIT_ID",
    "Actor",
    "ActorKind",
    "Case",
    "CaseCreated",
    "CaseDetails",
    "CaseKind",
    "CaseRouted",
    "CaseStatus",
    "CaseStatusChanged",
    "CategoryRef",
    "Channel",
    "Consent",
    "ContractError",
    "DistrictSource",
    "Event",
    "Language",
    "Location",
    "Reporter",
    "RoutingReason",
    "Topic",
    "dead_letter_topic",
    "decode",
    "encode",
    "headers_dict",
    "traceparent_for",
    "utcnow",
]
