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
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from cptkit._native import (
    Benchmark,
    BenchmarkAmount,
    ClinicalContext,
    CodeProfile,
    CodeSummary,
    CommonDiagnosis,
    Diagnosis,
    Locality,
    Modifier,
    PayerPolicy,
    PayerProfile,
    PlaceOfService,
    PolicyUpdate,
    ProviderTaxonomy,
    RelatedCode,
    Taxonomy,
    TypicalPlace,
    code,
    diagnosis,
    list_codes,
    modifier,
    place_of_service,
    search_codes,
    taxonomy,
)
from cptkit.exceptions import (
    ConflictError,
    CptkitError,
    InternalError,
    InvalidInputError,
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
    # Errors
    "CptkitError",
    "InvalidInputError",
    "NotFoundError",
    "UnknownCodeError",
    "UnsupportedError",
    "ConflictError",
    "InternalError",
    "__version__",
]
