"""The exceptions cptkit raises: one base, :class:`CptkitError`, and one class per error kind.

Every error carries ``kind`` (``"invalid_input"``, ``"not_found"``, ``"unsupported"``, ``"conflict"``
or ``"internal"``, the core's error kind), ``field``, the input it is about (``"code"``,
``"localities[0]"``) or ``None``, ``loc``, the same path as a tuple (``("localities", 0)``, as
pydantic's ``loc``; ``()`` for none), ``message``, and ``violations``: every ``(field, message)`` at
fault (one entry for a single bad field, several for an invalid claim). ``str(error)`` is
``"field: message"``.

**Files.** Every function that reads a file the caller names (``read_837``, ``read_835``,
``reconcile``, ``load_rule_set``, ``ingest_tic``, ``load_benchmarks``) raises :class:`MissingFileError`
when the file does not exist: a :class:`NotFoundError` *and* a built-in ``FileNotFoundError``, with
``filename``. A file that exists but cannot be read or understood is an :class:`InvalidInputError`
whose ``file`` names it.

:class:`ClaimValidationError` (an :class:`InvalidInputError`) is what ``cptkit.price`` raises for a
claim with error findings; it also carries ``report`` (the claim's ``ValidationReport``) and ``issues``
(its error ``Finding`` objects).

The native module raises these classes (it maps the core's error kind to them in one place), so they
are defined once, here, where multiple inheritance lets :class:`InvalidInputError` also be a
``ValueError`` and :class:`NotFoundError` a ``LookupError``.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only; the native module imports this one at run time
    from cptkit._native import Finding, ValidationReport

__all__ = [
    "ClaimValidationError",
    "ConflictError",
    "CptkitError",
    "InternalError",
    "InvalidInputError",
    "MissingFileError",
    "NotFoundError",
    "UnknownCodeError",
    "UnsupportedError",
]


class CptkitError(Exception):
    """Base class of every error cptkit raises."""

    #: The core's error kind; each subclass has its own.
    kind: str = "internal"

    def __init__(
        self,
        message: str = "",
        *,
        kind: str | None = None,
        field: str | None = None,
        loc: tuple[str | int, ...] = (),
        file: str | None = None,
        violations: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = kind
        self.field = field
        self.loc: tuple[str | int, ...] = tuple(loc)
        #: The file the error is about, when it is about one.
        self.file = file
        self.violations: list[tuple[str, str]] = (
            list(violations) if violations is not None else ([(field, message)] if field else [])
        )

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidInputError(CptkitError, ValueError):
    """The input is malformed (a 4-digit CPT code, an unknown service type); ``field`` names it."""

    kind = "invalid_input"


class ClaimValidationError(InvalidInputError):
    """``price()`` refused a claim with error findings (a wrong modifier order, a bad NPI check digit...).

    ``issues`` is the tuple of error-level ``Finding`` objects (edit id, severity, field, message,
    hint), ``report`` the claim's full ``ValidationReport`` (warnings too), and ``violations`` the
    ``(field, "EDIT: message")`` pairs, as the gRPC server's ``BadRequest`` lists them.
    """

    def __init__(
        self,
        message: str = "",
        *,
        kind: str | None = None,
        field: str | None = None,
        loc: tuple[str | int, ...] = (),
        file: str | None = None,
        violations: list[tuple[str, str]] | None = None,
        report: ValidationReport | None = None,
    ) -> None:
        super().__init__(message, kind=kind, field=field, loc=loc, file=file, violations=violations)
        self.report = report
        self.issues: tuple[Finding, ...] = (
            tuple(f for f in report.findings if f.severity == "error") if report is not None else ()
        )


class NotFoundError(CptkitError, LookupError):
    """The input is well-formed but not in the reference data (modifier ``"ZZ"``)."""

    kind = "not_found"


class MissingFileError(NotFoundError, FileNotFoundError):
    """A file the caller named does not exist. Also a built-in ``FileNotFoundError`` (so ``except
    FileNotFoundError`` and ``except OSError`` catch it), with ``filename`` and ``errno``."""

    def __init__(
        self,
        message: str = "",
        *,
        kind: str | None = None,
        field: str | None = None,
        loc: tuple[str | int, ...] = (),
        file: str | None = None,
        violations: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message, kind=kind, field=field, loc=loc, file=file, violations=violations)
        self.errno = errno.ENOENT
        self.strerror = message
        self.filename = file

    def __str__(self) -> str:
        return f"{self.filename}: {self.message}"


class UnknownCodeError(NotFoundError):
    """A well-formed CPT code that cptkit has no profile for (``"00101"``, ``"99213"``)."""


class UnsupportedError(CptkitError):
    """Well-formed and known, but not something cptkit handles."""

    kind = "unsupported"


class ConflictError(CptkitError):
    """The input contradicts other input or the loaded reference data."""

    kind = "conflict"


class InternalError(CptkitError):
    """A bug in cptkit or broken embedded data; please report it."""

    kind = "internal"
