"""Type stubs of the native module ``cptkit._native`` (checked against the binary by mypy.stubtest)."""

from collections.abc import Sequence
import datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypeAlias, final

__all__ = [
    "code",
    "search_codes",
    "list_codes",
    "modifier",
    "diagnosis",
    "taxonomy",
    "place_of_service",
    "CodeProfile",
    "TypicalPlace",
    "ClinicalContext",
    "Modifier",
    "ProviderTaxonomy",
    "Taxonomy",
    "CommonDiagnosis",
    "Diagnosis",
    "PayerProfile",
    "PayerPolicy",
    "Benchmark",
    "BenchmarkAmount",
    "Locality",
    "RelatedCode",
    "PolicyUpdate",
    "CodeSummary",
    "PlaceOfService",
]

# Enums are plain lowercase strings (their serde names).
_ServiceType: TypeAlias = Literal["anesthesia", "anesthesia_add_on", "unlisted_anesthesia"]
_Known: TypeAlias = Literal["yes", "no", "unknown"]
_ModifierCategory: TypeAlias = Literal["pricing", "informational", "teaching", "cpt", "physical_status"]
_CfTier: TypeAlias = Literal["single", "non_qualifying_apm", "qualifying_apm"]
_Relation: TypeAlias = Literal["same_category", "add_on", "qualifying_circumstance"]

def code(code: str, localities: Sequence[str] | Literal["all"] | None = None) -> CodeProfile:
    """The profile of one anesthesia code (00100-01999).

    ``localities`` adds Medicare benchmark rows for MAC-locality ids such as ``"13202-01"`` (Manhattan),
    or for every locality with ``"all"``; the national rows are always there.

    Raises InvalidInputError (field ``"code"`` or ``"localities[i]"``) for malformed input,
    UnknownCodeError for a well-formed code cptkit has no profile for, NotFoundError for an unknown
    locality.
    """

def search_codes(
    text: str = "",
    *,
    category: str | None = None,
    min_base_units: int | None = None,
    max_base_units: int | None = None,
    inpatient_only: bool | None = None,
    service_type: _ServiceType | None = None,
) -> list[CodeSummary]:
    """Codes matching every given filter, in code order; all matches."""

def list_codes() -> list[CodeSummary]:
    """Every anesthesia code cptkit knows, in code order."""

def modifier(code: str) -> Modifier:
    """An anesthesia modifier (AA, QK, QS, P3, ...)."""

def diagnosis(code: str) -> Diagnosis:
    """An ICD-10-CM code; the dotted (M54.50) and undotted (m5450) forms are both accepted."""

def taxonomy(code: str) -> Taxonomy:
    """A NUCC provider taxonomy (207L00000X)."""

def place_of_service(code: str) -> PlaceOfService:
    """A CMS place-of-service code (21)."""

class _Record:
    # Shared by every record class below (not a runtime class).
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def to_dict(self) -> dict[str, Any]:
        """The serde JSON form: the same keys and strings as the gRPC JSON and the golden fixtures."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class CodeProfile(_Record):
    @property
    def code(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def description_source(self) -> str: ...
    @property
    def service_type(self) -> _ServiceType: ...
    @property
    def category(self) -> str: ...
    @property
    def base_units(self) -> int: ...
    @property
    def base_units_source(self) -> str: ...
    @property
    def medicare_inpatient_only(self) -> _Known: ...
    @property
    def inpatient_only_source(self) -> str: ...
    @property
    def places_of_service(self) -> tuple[TypicalPlace, ...]: ...
    @property
    def clinical_context(self) -> ClinicalContext: ...
    @property
    def modifiers(self) -> tuple[Modifier, ...]: ...
    @property
    def taxonomies(self) -> tuple[ProviderTaxonomy, ...]: ...
    @property
    def diagnoses(self) -> tuple[CommonDiagnosis, ...]: ...
    @property
    def payers(self) -> tuple[PayerProfile, ...]: ...
    @property
    def benchmarks(self) -> tuple[Benchmark, ...]: ...
    @property
    def related_codes(self) -> tuple[RelatedCode, ...]: ...
    @property
    def policy_updates(self) -> tuple[PolicyUpdate, ...]: ...
    def _repr_html_(self) -> str: ...

@final
class TypicalPlace(_Record):
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def basis(self) -> str: ...

@final
class ClinicalContext(_Record):
    @property
    def summary(self) -> tuple[str, ...]: ...
    @property
    def setting(self) -> str: ...
    @property
    def care_team(self) -> str: ...
    @property
    def workflow(self) -> tuple[str, ...]: ...
    @property
    def sources(self) -> tuple[str, ...]: ...

@final
class Modifier(_Record):
    @property
    def code(self) -> str: ...
    @property
    def category(self) -> _ModifierCategory: ...
    @property
    def meaning(self) -> str: ...
    @property
    def billed_by(self) -> str: ...
    @property
    def medicare_payment_effect(self) -> str: ...
    @property
    def source(self) -> str: ...

@final
class ProviderTaxonomy(_Record):
    @property
    def taxonomy(self) -> Taxonomy: ...
    @property
    def why(self) -> str: ...

@final
class Taxonomy(_Record):
    @property
    def code(self) -> str: ...
    @property
    def grouping(self) -> str: ...
    @property
    def classification(self) -> str: ...
    @property
    def specialization(self) -> str: ...
    @property
    def provider_role(self) -> str: ...
    @property
    def medicare_specialty(self) -> str: ...
    @property
    def source(self) -> str: ...

@final
class CommonDiagnosis(_Record):
    @property
    def diagnosis(self) -> Diagnosis: ...
    @property
    def relevance(self) -> str: ...
    @property
    def source(self) -> str: ...

@final
class Diagnosis(_Record):
    @property
    def code(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def billable(self) -> bool: ...
    @property
    def valid_through(self) -> datetime.date | None: ...
    @property
    def replaced_by(self) -> tuple[str, ...]: ...
    @property
    def source(self) -> str: ...

@final
class PayerProfile(_Record):
    @property
    def payer(self) -> str: ...
    @property
    def policies(self) -> tuple[PayerPolicy, ...]: ...

@final
class PayerPolicy(_Record):
    @property
    def payer(self) -> str: ...
    @property
    def plan(self) -> str: ...
    @property
    def topic(self) -> str: ...
    @property
    def policy(self) -> str: ...
    @property
    def effective_date(self) -> datetime.date | None: ...
    @property
    def evidence(self) -> str: ...
    @property
    def source(self) -> str: ...

@final
class Benchmark(_Record):
    @property
    def year(self) -> int: ...
    @property
    def tier(self) -> _CfTier: ...
    @property
    def locality(self) -> Locality | None: ...
    @property
    def conversion_factor(self) -> Decimal: ...
    @property
    def conversion_factor_source(self) -> str: ...
    @property
    def amounts(self) -> tuple[BenchmarkAmount, ...]: ...

@final
class BenchmarkAmount(_Record):
    @property
    def minutes(self) -> int: ...
    @property
    def time_units(self) -> Decimal: ...
    @property
    def total_units(self) -> Decimal: ...
    @property
    def allowed(self) -> Decimal: ...

@final
class Locality(_Record):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...

@final
class RelatedCode(_Record):
    @property
    def code(self) -> str: ...
    @property
    def relation(self) -> _Relation: ...
    @property
    def description(self) -> str: ...
    @property
    def base_units(self) -> int | None: ...

@final
class PolicyUpdate(_Record):
    @property
    def date(self) -> datetime.date: ...
    @property
    def title(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def source(self) -> str: ...

@final
class CodeSummary(_Record):
    @property
    def code(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def base_units(self) -> int: ...
    @property
    def service_type(self) -> _ServiceType: ...
    @property
    def medicare_inpatient_only(self) -> _Known: ...

@final
class PlaceOfService(_Record):
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def note(self) -> str: ...
