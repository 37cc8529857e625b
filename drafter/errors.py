"""Every error a user can cause or meet, under one root.

    DrafterError                      code             HTTP  exit
    ├── ConfigError                   config_invalid    500   78  settings or backend misconfigured
    │   └── LocalModelError           local_model       503   69  embedded model missing, corrupt or not starting
    ├── InputError                    invalid_input     422   65  the request itself is wrong
    │   ├── EmptyMessageError         message_empty     422   65
    │   ├── MessageTooLongError       message_too_long  413   65
    │   ├── RequestTooLargeError      request_too_large 413   65
    │   ├── ReviewRuleError           review_invalid    422   65  e.g. approving a block finding unacknowledged
    │   ├── TemplateInvalidError      template_invalid  422   65  a template set fails validation (details.issues)
    │   ├── DatasetError              dataset_invalid   422   65  an eval dataset or run folder that cannot be used
    │   └── FhirResourceError         fhir_invalid      400   65  not a valid FHIR R4 resource (OperationOutcome)
    ├── AuthenticationError           unauthenticated   401   77  no, malformed, unknown, revoked or expired token
    ├── PermissionDeniedError         forbidden         403   77  the token's role may not do this
    ├── RateLimitedError              rate_limited      429   75  too many requests for this token; Retry-After set
    ├── AuditChainError               audit_broken      500   65  `drafter audit verify` found an altered chain
    ├── NotFoundError                 not_found         404   66
    ├── ConflictError                 conflict          409   65  e.g. reviewing a reviewed draft
    │   └── GateBlockedError          gate_blocked      409   65  the eval gate found a regression (details.gate)
    ├── TemplateError                 template_error    500   70  a prompt template failed to render
    ├── StorageError                  storage_unavailable 503 69
    ├── DraftInterruptedError         draft_interrupted 503   75  the process stopped or the client left mid-draft
    └── LLMError                      llm_error         502   69  the model backend failed us
        ├── LLMUnavailableError       llm_unavailable   503   69  connection refused, 5xx or 429 after the retry budget
        │   └── LLMCircuitOpenError   llm_circuit_open  503   69  failing fast after repeated failures (breaker open)
        ├── LLMTimeoutError           llm_timeout       504   75
        ├── LLMResponseError          llm_bad_response  502   69  malformed, empty, filtered or oversized reply
        └── LLMBusyError              llm_busy          503   75  our own cap on concurrent LLM calls is full

The API maps these in one handler (drafter.api.errors), the CLI in one place (drafter.cli).
"""

from __future__ import annotations

from typing import Any


class DrafterError(Exception):
    """Root of every error drafter raises on purpose."""

    code = "internal_error"
    http_status = 500
    exit_code = 70  # EX_SOFTWARE

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ConfigError(DrafterError):
    code = "config_invalid"
    exit_code = 78  # EX_CONFIG


class LocalModelError(ConfigError):
    code = "local_model"
    http_status = 503
    exit_code = 69  # EX_UNAVAILABLE


class InputError(DrafterError):
    code = "invalid_input"
    http_status = 422
    exit_code = 65  # EX_DATAERR


class EmptyMessageError(InputError):
    code = "message_empty"


class MessageTooLongError(InputError):
    code = "message_too_long"
    http_status = 413


class RequestTooLargeError(InputError):
    code = "request_too_large"
    http_status = 413


class ReviewRuleError(InputError):
    code = "review_invalid"


class TemplateInvalidError(InputError):
    code = "template_invalid"


class DatasetError(InputError):
    code = "dataset_invalid"


class FhirResourceError(InputError):
    code = "fhir_invalid"
    http_status = 400  # FHIR's answer to a resource that fails basic validation; rule violations are 422


class NotFoundError(DrafterError):
    code = "not_found"
    http_status = 404
    exit_code = 66  # EX_NOINPUT


class ConflictError(DrafterError):
    code = "conflict"
    http_status = 409
    exit_code = 65


class GateBlockedError(ConflictError):
    code = "gate_blocked"


class TemplateError(DrafterError):
    code = "template_error"


class StorageError(DrafterError):
    code = "storage_unavailable"
    http_status = 503
    exit_code = 69


class LLMError(DrafterError):
    code = "llm_error"
    http_status = 502
    exit_code = 69

    def __init__(
        self, message: str, *, retry_after: float | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class LLMUnavailableError(LLMError):
    code = "llm_unavailable"
    http_status = 503


class LLMTimeoutError(LLMError):
    code = "llm_timeout"
    http_status = 504
    exit_code = 75  # EX_TEMPFAIL


class LLMResponseError(LLMError):
    code = "llm_bad_response"


class LLMCircuitOpenError(LLMUnavailableError):
    code = "llm_circuit_open"


class LLMBusyError(LLMError):
    code = "llm_busy"
    http_status = 503
    exit_code = 75  # EX_TEMPFAIL


class DraftInterruptedError(DrafterError):
    """Stored on a draft whose drafting stopped half-way (crash, restart, client gone); regenerate it."""

    code = "draft_interrupted"
    http_status = 503
    exit_code = 75  # EX_TEMPFAIL


class AuthenticationError(DrafterError):
    code = "unauthenticated"
    http_status = 401
    exit_code = 77  # EX_NOPERM

    @property
    def headers(self) -> dict[str, str]:
        """The challenge every 401 must carry."""
        return {"WWW-Authenticate": 'Bearer realm="drafter"'}


class PermissionDeniedError(DrafterError):
    code = "forbidden"
    http_status = 403
    exit_code = 77


class RateLimitedError(DrafterError):
    code = "rate_limited"
    http_status = 429
    exit_code = 75

    def __init__(self, message: str, *, retry_after: int, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = max(1, retry_after)

    @property
    def headers(self) -> dict[str, str]:
        """When the client may try again."""
        return {"Retry-After": str(self.retry_after)}


class AuditChainError(DrafterError):
    code = "audit_broken"
    exit_code = 65
