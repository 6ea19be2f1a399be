"""Type stubs of the native module ``cptkit._native`` (checked against the binary by mypy.stubtest)."""

from collections.abc import Iterable, Sequence
import datetime
from decimal import Decimal
import os
from typing import Any, ClassVar, Literal, TypeAlias, final, overload

from cptkit.exceptions import CptkitError

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
    "validate",
    "price",
    "validate_many",
    "price_many",
    "load_rule_set",
    "Claim",
    "RuleSet",
    "ValidationReport",
    "Finding",
    "PricedClaim",
    "PricedLine",
    "PriceStep",
    "read_837",
    "write_837",
    "read_835",
    "reconcile",
    "SourceLocation",
    "X12Issue",
    "ParsedClaim",
    "RejectedClaim",
    "Read837Result",
    "Remittance",
    "Reconciliation",
]

# Enums are plain lowercase strings (their serde names).
_ServiceType: TypeAlias = Literal["anesthesia", "anesthesia_add_on", "unlisted_anesthesia"]
_Known: TypeAlias = Literal["yes", "no", "unknown"]
_ModifierCategory: TypeAlias = Literal["pricing", "informational", "teaching", "cpt", "physical_status"]
_CfTier: TypeAlias = Literal["single", "non_qualifying_apm", "qualifying_apm"]
_Relation: TypeAlias = Literal["same_category", "add_on", "qualifying_circumstance"]
_Severity: TypeAlias = Literal["error", "warning"]
_LineStatus: TypeAlias = Literal["priced", "not_priced"]
_CfBasis: TypeAlias = Literal["medicare", "contract"]

# A claim: the claim JSON form as a dict (dates and decimals may be datetime.date and Decimal), the
# same as JSON text, or a parsed Claim.
_ClaimInput: TypeAlias = dict[str, Any] | str | bytes | Claim
# Money and conversion factors are never floats.
_Money: TypeAlias = Decimal | str | int
_Today: TypeAlias = datetime.date | str | None

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

def validate(claim: _ClaimInput, *, today: _Today = None) -> ValidationReport:
    """Validates one claim; ``today`` (default: today's date) judges "date of service in the future".

    Raises InvalidInputError naming the field (``lines[0].procedure_code``) for a malformed claim.
    """

def price(
    claim: _ClaimInput,
    *,
    conversion_factor: _Money | None = None,
    rule_set: str | RuleSet | None = None,
    today: _Today = None,
) -> PricedClaim:
    """Validates, then prices every line by the payer's rule set in force on the date of service.

    ``conversion_factor`` is the contract rate for commercial rule sets (a Decimal, str or int; a float
    is refused). ``rule_set`` forces a rule set: an embedded id (``"cigna-2021-05"``) or a RuleSet from
    ``load_rule_set``. Raises ClaimValidationError (with ``.issues``) for a claim with error findings,
    InvalidInputError for a malformed claim or a missing contract conversion factor, NotFoundError
    when no rule set covers the payer.
    """

def validate_many(claims: Iterable[_ClaimInput], *, today: _Today = None) -> list[ValidationReport | CptkitError]:
    """Validates a batch, including the edits across claims (BAT001-BAT003); one result per claim, in
    order: its ValidationReport, or the InvalidInputError for a claim that cannot be read."""

def price_many(
    claims: Iterable[_ClaimInput],
    *,
    conversion_factor: _Money | None = None,
    rule_set: str | RuleSet | None = None,
    today: _Today = None,
) -> list[PricedClaim | CptkitError]:
    """Prices a batch with the GIL released; one result per claim, in order: its PricedClaim, or the
    exception ``price`` would have raised for it (returned, not raised)."""

def load_rule_set(source: str | bytes | os.PathLike[str] | dict[str, Any] | RuleSet) -> RuleSet:
    """Loads a payer rule set from a file path, JSON text or a dict; errors name the field."""

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
    def payer_benchmarks(self) -> tuple[PayerBenchmark, ...]: ...
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

@final
class Finding(_Record):
    def __new__(cls, edit_id: str, severity: _Severity, field: str, message: str, hint: str) -> Finding: ...
    @property
    def edit_id(self) -> str: ...
    @property
    def severity(self) -> _Severity: ...
    @property
    def field(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def hint(self) -> str: ...
    def __reduce__(self) -> tuple[type[Finding], tuple[str, str, str, str, str]]: ...

@final
class ValidationReport(_Record):
    def __new__(cls, claim_id: str, findings: Sequence[Finding]) -> ValidationReport: ...
    @property
    def claim_id(self) -> str: ...
    @property
    def findings(self) -> tuple[Finding, ...]: ...
    @property
    def valid(self) -> bool:
        """No finding is an error (warnings allowed)."""
    def __reduce__(self) -> tuple[type[ValidationReport], tuple[str, tuple[Finding, ...]]]: ...

@final
class PriceStep(_Record):
    @property
    def step(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def value(self) -> str: ...

@final
class Claim:
    __hash__: ClassVar[None]  # type: ignore[assignment]
    @staticmethod
    def from_dict(claim: dict[str, Any]) -> Claim: ...
    @staticmethod
    def from_json(json: str | bytes) -> Claim: ...
    def to_dict(self) -> dict[str, Any]: ...
    def to_json(self) -> str: ...
    @property
    def claim_id(self) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __reduce__(self) -> tuple[Any, tuple[str]]: ...

@final
class RuleSet:
    __hash__: ClassVar[None]  # type: ignore[assignment]
    @property
    def id(self) -> str: ...
    @property
    def payer(self) -> str: ...
    @property
    def plan(self) -> str: ...
    @property
    def payer_ids(self) -> tuple[str, ...]: ...
    @property
    def effective_from(self) -> datetime.date: ...
    @property
    def effective_to(self) -> datetime.date | None: ...
    @property
    def source(self) -> str: ...
    @property
    def conversion_factor(self) -> _CfBasis: ...
    def to_dict(self) -> dict[str, Any]: ...
    def to_json(self) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __reduce__(self) -> tuple[Any, tuple[str]]: ...

@final
class PricedClaim(_Record):
    @property
    def claim_id(self) -> str: ...
    @property
    def lines(self) -> tuple[PricedLine, ...]: ...
    @property
    def total_charge(self) -> Decimal: ...
    @property
    def total_allowed(self) -> Decimal: ...

@final
class PricedLine(_Record):
    @property
    def line(self) -> int: ...
    @property
    def procedure_code(self) -> str: ...
    @property
    def status(self) -> _LineStatus: ...
    @property
    def rule_set(self) -> str: ...
    @property
    def date_of_service(self) -> datetime.date: ...
    @property
    def base_units(self) -> Decimal: ...
    @property
    def time_units(self) -> Decimal: ...
    @property
    def modifying_units(self) -> Decimal: ...
    @property
    def total_units(self) -> Decimal: ...
    @property
    def conversion_factor(self) -> Decimal: ...
    @property
    def share(self) -> Decimal: ...
    @property
    def fee_schedule(self) -> Decimal: ...
    @property
    def charge(self) -> Decimal: ...
    @property
    def allowed(self) -> Decimal: ...
    @property
    def steps(self) -> tuple[PriceStep, ...]: ...


# X12 ---------------------------------------------------------------------------------------------

# An X12 input: a path or the file's bytes.
_X12Input: TypeAlias = str | os.PathLike[str] | bytes
_X12ErrorKind: TypeAlias = Literal["syntax", "envelope", "truncated", "value", "unsupported", "io"]

@overload
def read_837(
    source: _X12Input,
    *,
    medicare_locality: str | None = None,
    payer_ids: dict[str, str] | None = None,
    validate: bool = False,
    today: _Today = None,
    as_table: Literal[False] = False,
) -> Read837Result:
    """Reads an 837P (005010X222A1) file: the claims of every transaction set that passed the envelope
    checks, the claims that could not be read, and every X12 problem with its segment and byte offset.

    ``medicare_locality`` is set on every claim (the 837 does not carry it); ``payer_ids`` maps a payer
    id (2010BB NM109) or upper-case name to a cptkit payer id (``{"BCBSOK": "bcbs-ok"}``). With
    ``validate=True`` each ParsedClaim carries the core ValidationReport (``.report``), batch edits
    included. ``as_table=True`` returns the claims as a claim-lines Arrow table instead.
    """
@overload
def read_837(
    source: _X12Input,
    *,
    medicare_locality: str | None = None,
    payer_ids: dict[str, str] | None = None,
    validate: bool = False,
    today: _Today = None,
    as_table: Literal[True],
) -> Any: ...

def write_837(
    claims: Iterable[_ClaimInput | ParsedClaim],
    path: str | os.PathLike[str] | None = None,
    *,
    sender_id: str = "CPTKIT",
    receiver_id: str = "RECEIVER",
    sender_qualifier: str = "ZZ",
    receiver_qualifier: str = "ZZ",
    interchange_control: int = 1,
    usage: str = "P",
    claims_per_transaction: int = 5000,
    submitter_name: str | None = None,
    receiver_name: str | None = None,
    billing_provider_name: str | None = None,
    billing_taxonomy: str | None = None,
    date: datetime.date | None = None,
    element_separator: str | None = None,
    component_separator: str | None = None,
    segment_terminator: str | None = None,
    line_breaks: bool = True,
) -> bytes:
    """Writes claims as one 837P interchange and returns its bytes (also written to ``path`` if given).

    Raises InvalidInputError naming the field (``claims[3].lines[0].end_time``) for a claim an 837
    cannot carry.
    """

def read_835(source: _X12Input, *, strict: bool = False) -> list[Remittance]:
    """Reads an 835 (005010X221A1) file: one Remittance per transaction set. With ``strict=True`` the
    first X12 problem raises; otherwise bad transaction sets are skipped."""

def reconcile(
    claims_837: _X12Input | Read837Result,
    remittance_835: _X12Input | Iterable[Remittance],
    *,
    conversion_factor: _Money | None = None,
    rule_set: str | RuleSet | None = None,
    tolerance: _Money | None = None,
    today: _Today = None,
    medicare_locality: str | None = None,
    payer_ids: dict[str, str] | None = None,
) -> Reconciliation:
    """Matches remittance lines to claim lines and compares what was paid with cptkit's price.

    ``tolerance`` (default 1.00) is how far below the expected amount a line may be before it is
    flagged ``underpaid``.
    """

@final
class SourceLocation:
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    @property
    def segment(self) -> int: ...
    @property
    def segment_id(self) -> str: ...
    @property
    def element(self) -> str | None: ...
    @property
    def byte_offset(self) -> int: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class X12Issue:
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool: ...
    @property
    def kind(self) -> _X12ErrorKind: ...
    @property
    def message(self) -> str: ...
    @property
    def segment(self) -> int: ...
    @property
    def segment_id(self) -> str: ...
    @property
    def element(self) -> str | None: ...
    @property
    def byte_offset(self) -> int: ...
    @property
    def location(self) -> SourceLocation: ...
    @property
    def transaction_control(self) -> str | None: ...
    def to_exception(self) -> CptkitError: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class ParsedClaim:
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool: ...
    @property
    def claim(self) -> Claim: ...
    @property
    def claim_id(self) -> str: ...
    @property
    def findings(self) -> tuple[Finding, ...]: ...
    @property
    def report(self) -> ValidationReport | None: ...
    @property
    def part(self) -> tuple[int, int] | None: ...
    @property
    def lines(self) -> list[dict[str, Any]]: ...
    @property
    def info(self) -> dict[str, Any]: ...
    def locate(self, finding: Finding | str) -> SourceLocation: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class RejectedClaim:
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool: ...
    @property
    def claim_id(self) -> str: ...
    @property
    def location(self) -> SourceLocation: ...
    @property
    def errors(self) -> tuple[X12Issue, ...]: ...

@final
class Read837Result:
    @property
    def claims(self) -> list[ParsedClaim]: ...
    @property
    def rejected(self) -> tuple[RejectedClaim, ...]: ...
    @property
    def errors(self) -> tuple[X12Issue, ...]: ...
    @property
    def problems(self) -> tuple[X12Issue, ...]: ...
    @property
    def ok(self) -> bool: ...
    def core_claims(self) -> list[Claim]: ...
    def to_table(self) -> Any:
        """The claims read as a claim-lines Arrow table (``cptkit.CLAIM_LINES_SCHEMA``)."""
    def raise_for_errors(self) -> None: ...
    def __len__(self) -> int: ...

@final
class Remittance:
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool: ...
    @property
    def payer(self) -> dict[str, Any]: ...
    @property
    def payee(self) -> dict[str, Any]: ...
    @property
    def payment(self) -> dict[str, Any]: ...
    @property
    def claims(self) -> list[dict[str, Any]]: ...
    @property
    def provider_adjustments(self) -> list[dict[str, Any]]: ...
    @property
    def problems(self) -> tuple[X12Issue, ...]: ...
    def balances(self) -> bool: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Reconciliation:
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool: ...
    @property
    def claims(self) -> list[dict[str, Any]]: ...
    @property
    def totals(self) -> dict[str, Any]: ...
    @property
    def totals_by_payer(self) -> dict[str, dict[str, Any]]: ...
    @property
    def unmatched_remit_claims(self) -> list[Any]: ...
    def lines(self) -> list[dict[str, Any]]: ...
    def to_dict(self) -> dict[str, Any]: ...

# Tables (Arrow in and out; cptkit.validate_table / price_table wrap these with progress bars).
__all__ += ["claim_lines_schema", "result_schema", "validate_table", "price_table", "synthetic_claims"]

def claim_lines_schema() -> Any: ...
def result_schema(priced: bool, explain: bool = False) -> Any: ...
def validate_table(table: Any, *, today: _Today = None, progress: Any = None) -> Any: ...
def price_table(
    table: Any,
    *,
    conversion_factor: Any = None,
    rule_set: str | RuleSet | None = None,
    explain: bool = False,
    today: _Today = None,
    progress: Any = None,
) -> Any: ...
def synthetic_claims(count: int, seed: int = 0) -> Any: ...

# ---- Payer rate benchmarks (TiC): crates/cptkit-py/src/rates.rs ----


__all__ += ["ingest_tic", "load_benchmarks", "benchmarks", "PayerBenchmark", "RateProvenance", "MedicareComparison"]

_RateBasis: TypeAlias = Literal["per_unit", "per_case", "unknown", "per_service", "per_diem", "percentage"]
_Path: TypeAlias = str | os.PathLike[str]

@overload
def ingest_tic(
    paths: _Path | Iterable[_Path],
    *,
    codes: Sequence[str] | Literal["all"] | None = None,
    provider_refs_dir: _Path | None = None,
    nppes: _Path | None = None,
    out: _Path | None = None,
    progress: bool | None = None,
    summary: Literal[False] = False,
) -> Any: ...
@overload
def ingest_tic(
    paths: _Path | Iterable[_Path],
    *,
    codes: Sequence[str] | Literal["all"] | None = None,
    provider_refs_dir: _Path | None = None,
    nppes: _Path | None = None,
    out: _Path | None = None,
    progress: bool | None = None,
    summary: Literal[True],
) -> tuple[Any, dict[str, Any]]: ...
def load_benchmarks(dir: _Path | None) -> int:
    """Loads every *.parquet of a benchmark store as this process's payer benchmarks (None unloads);
    returns the number of rows. Cached profiles are dropped so ``code(...)`` shows them."""

def benchmarks(
    code: str,
    *,
    payer: str | None = None,
    billing_class: Literal["professional", "institutional"] | None = None,
    place_of_service: str | None = None,
    negotiated_type: Literal["negotiated", "derived", "fee schedule", "percentage", "per diem"] | None = None,
    rate_basis: _RateBasis | None = None,
    modifier: str | None = None,
) -> list[PayerBenchmark]:
    """The loaded payer benchmark rows of one code passing every filter (payer: case-insensitive
    substring). InvalidInputError names a bad filter; UnknownCodeError for a code that is neither an
    anesthesia code nor among the loaded rows."""

@final
class PayerBenchmark(_Record):
    @property
    def provenance(self) -> RateProvenance: ...
    @property
    def billing_code_type(self) -> str: ...
    @property
    def billing_code(self) -> str: ...
    @property
    def billing_class(self) -> str: ...
    @property
    def place_of_service(self) -> str | None: ...
    @property
    def modifiers(self) -> tuple[str, ...]: ...
    @property
    def taxonomy(self) -> str | None: ...
    @property
    def negotiated_type(self) -> str: ...
    @property
    def rate_basis(self) -> _RateBasis: ...
    @property
    def count(self) -> int: ...
    @property
    def min(self) -> Decimal: ...
    @property
    def p10(self) -> Decimal: ...
    @property
    def p25(self) -> Decimal: ...
    @property
    def median(self) -> Decimal: ...
    @property
    def p75(self) -> Decimal: ...
    @property
    def p90(self) -> Decimal: ...
    @property
    def max(self) -> Decimal: ...
    @property
    def medicare(self) -> MedicareComparison | None: ...

@final
class RateProvenance(_Record):
    @property
    def source_file(self) -> str: ...
    @property
    def reporting_entity_name(self) -> str: ...
    @property
    def reporting_entity_type(self) -> str: ...
    @property
    def last_updated_on(self) -> str: ...
    @property
    def schema_version(self) -> str: ...
    @property
    def ingested_on(self) -> datetime.date: ...

@final
class MedicareComparison(_Record):
    @property
    def year(self) -> int: ...
    @property
    def conversion_factor(self) -> Decimal: ...
    @property
    def median_percent_of_medicare(self) -> Decimal: ...
