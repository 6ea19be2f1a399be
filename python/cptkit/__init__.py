"""cptkit: anesthesia billing-code intelligence.

Look up a CPT anesthesia code and get its profile: description, base units, places of service,
clinical context, modifiers and their payment effect, provider taxonomies, common ICD-10-CM
diagnoses, payer policies, Medicare benchmarks, related codes and policy updates, each with sources.

>>> import cptkit
>>> profile = cptkit.code("00632")
>>> profile.base_units
7
>>> cptkit.diagnosis("m5450").code
'M54.50'

Validate and price claims (the claim JSON form as a dict, JSON text or a ``cptkit.Claim``), one at a
time or in batches with the GIL released:

>>> report = cptkit.validate(claim)                      # doctest: +SKIP
>>> priced = cptkit.price(claim)                         # doctest: +SKIP
>>> results = cptkit.price_many(claims)                  # doctest: +SKIP

Tables of claim lines (pyarrow, polars, pandas; one row per line, ``cptkit.CLAIM_LINES_SCHEMA``) are
validated and priced in bulk on every core, one result row per input row:

>>> results = cptkit.price_table(lines, conversion_factor={"cigna": "62.50"})  # doctest: +SKIP

Read, write and reconcile X12 (837P claims, 835 remittances):

>>> read = cptkit.read_837("claims.837", validate=True)  # doctest: +SKIP
>>> read = cptkit.read_835("remits.835", with_errors=True)  # doctest: +SKIP
>>> rec = cptkit.reconcile("claims.837", read)           # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from cptkit._native import (
    Benchmark,
    BenchmarkAmount,
    Claim,
    ClinicalContext,
    CodeProfile,
    CodeSection,
    CodeSummary,
    CommonDiagnosis,
    Diagnosis,
    FeeAmount,
    FeeComponent,
    FeeIndicator,
    FeeRelease,
    FeeScheduleProfile,
    Finding,
    GlobalPeriod,
    Locality,
    Modifier,
    PayerPolicy,
    PayerProfile,
    PlaceOfService,
    PolicyUpdate,
    PricedClaim,
    PricedLine,
    PriceStep,
    ProviderTaxonomy,
    ParsedClaim,
    Read837Result,
    Reconciliation,
    RejectedClaim,
    Remittance,
    SourceLocation,
    X12Issue,
    Read835Result,
    RemittanceParty,
    RemittancePayment,
    RemittanceClaim,
    RemittanceLine,
    RemittanceProcedure,
    Adjustment,
    ProviderAdjustment,
    ReconciledClaim,
    ReconciledLine,
    LineFlag,
    ClaimLevelResult,
    UnmatchedRemittanceLine,
    ReconciliationTotals,
    RelatedCode,
    RuleSet,
    Rvus,
    SettingAmount,
    Taxonomy,
    TypicalPlace,
    ValidationReport,
    code,
    diagnosis,
    list_codes,
    load_data,
    load_rule_set,
    modifier,
    place_of_service,
    price,
    price_many,
    read_835,
    read_837,
    reconcile,
    search_codes,
    taxonomy,
    validate,
    validate_many,
    write_837,
)
from cptkit import _tables
from cptkit._tables import (
    claims_to_table,
    price_table,
    validate_table,
)

if TYPE_CHECKING:
    # Built on first use (``__getattr__`` below): only these names, so a checker still flags a typo.
    CLAIM_LINES_SCHEMA: Any
    VALIDATION_SCHEMA: Any
    PRICING_SCHEMA: Any
else:

    def __getattr__(name: str) -> Any:
        if name in _tables.SCHEMAS:
            return getattr(_tables, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*globals(), *_tables.SCHEMAS})


# Payer rate benchmarks (TiC)
from cptkit._native import (
    MedicareComparison,
    PayerBenchmark,
    RateProvenance,
    benchmarks,
    ingest_tic,
    load_benchmarks,
)
from cptkit.exceptions import (
    ClaimValidationError,
    ConflictError,
    CptkitError,
    InternalError,
    InvalidInputError,
    MissingFileError,
    NotFoundError,
    UnknownCodeError,
    UnsupportedError,
)

try:
    __version__ = version("cptkit")
except PackageNotFoundError:  # pragma: no cover - only when imported without being installed
    __version__ = "0+unknown"

__all__ = [
    # Lookups
    "code",
    "search_codes",
    "list_codes",
    "modifier",
    "diagnosis",
    "taxonomy",
    "place_of_service",
    # Claims
    "validate",
    "price",
    "validate_many",
    "price_many",
    "load_rule_set",
    "load_data",
    "Claim",
    "RuleSet",
    "ValidationReport",
    "Finding",
    "PricedClaim",
    "PricedLine",
    "PriceStep",
    # Tables (Arrow in, Arrow out)
    "validate_table",
    "price_table",
    "claims_to_table",
    "CLAIM_LINES_SCHEMA",
    "VALIDATION_SCHEMA",
    "PRICING_SCHEMA",
    # X12 (837P, 835)
    "read_837",
    "write_837",
    "read_835",
    "reconcile",
    "Read837Result",
    "ParsedClaim",
    "RejectedClaim",
    "SourceLocation",
    "X12Issue",
    "Read835Result",
    "Remittance",
    "RemittanceParty",
    "RemittancePayment",
    "RemittanceClaim",
    "RemittanceLine",
    "RemittanceProcedure",
    "Adjustment",
    "ProviderAdjustment",
    "Reconciliation",
    "ReconciledClaim",
    "ReconciledLine",
    "LineFlag",
    "ClaimLevelResult",
    "UnmatchedRemittanceLine",
    "ReconciliationTotals",
    # Answer types
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
    "FeeScheduleProfile",
    "FeeRelease",
    "Rvus",
    "GlobalPeriod",
    "FeeIndicator",
    "FeeAmount",
    "SettingAmount",
    "FeeComponent",
    "CodeSection",
    # Payer rate benchmarks (TiC)
    "ingest_tic",
    "load_benchmarks",
    "benchmarks",
    "PayerBenchmark",
    "RateProvenance",
    "MedicareComparison",
    # Errors
    "CptkitError",
    "InvalidInputError",
    "ClaimValidationError",
    "MissingFileError",
    "NotFoundError",
    "UnknownCodeError",
    "UnsupportedError",
    "ConflictError",
    "InternalError",
    "__version__",
]
