"""The one HTTP client every REST source uses.

- connect and read timeouts on every request;
- bounded retries with jittered exponential backoff on connection errors and 5xx;
- rate limits obeyed: ``Retry-After``, GitHub's ``x-ratelimit-remaining``/``x-ratelimit-reset``
  (primary and secondary limits, 403 or 429), GitLab's ``RateLimit-Remaining``/``RateLimit-Reset``,
  Datadog's ``X-RateLimit-Reset`` in seconds, Qualys's 409 with ``X-RateLimit-ToWait-Sec``,
  Linear's ``X-RateLimit-Requests-*`` and ``-Complexity-*`` (a 400 with a ``RATELIMITED``
  GraphQL error, or a 429);
- conditional requests: the ETag and Last-Modified of every URL are kept (in the store, with the
  poll's events) and sent back, so an unchanged resource costs a ``304``;
- ``Link: rel="next"`` pagination followed to the end;
- bounded concurrency (a semaphore shared by a source's threads);
- every request counted in ``kpi_exporter_api_requests_total{source,code}``.

Errors name the method and the URL without its query string, never a header; the reason an
API answers with is redacted (an API may echo the credential it was sent): credentials cannot
leak into logs, metrics or the landing page.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests

from ..health import Health
from ..redaction import redact
from ..store import SourceState, Validator
from . import SourceError
from .safe_xml import XmlError, parse_xml

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({500, 502, 503, 504})
MAX_RATE_LIMIT_WAIT = 900.0  # longer waits fail the poll; the scheduler retries later


class HttpStatusError(SourceError):
    """A request answered with a status that is neither success nor worth a retry (a 404 for
    a deleted repository, a 401 for a revoked token). ``status`` lets a source treat one
    missing object as a problem of that object rather than a failed poll."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Response:
    """A successful (2xx) or not-modified (304) response."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    method: str = "GET"

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SourceError(
                f"{self.method} {_public(self.url)}: response is not valid JSON ({error})"
            ) from None

    def next_url(self) -> str | None:
        """The ``rel="next"`` target of the Link header, if any."""
        for part in self.headers.get("Link", "").split(","):
            target, _, params = part.partition(";")
            if 'rel="next"' in params.replace(" ", ""):
                return target.strip().strip("<>")
        return None


def _public(url: str) -> str:
    """The URL without its query string or user info, for error messages."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


public_url = _public


def with_query(url: str, params: Mapping[str, Any] | None) -> str:
    """``url`` with ``params`` appended in sorted order: one spelling per resource, so the
    stored validators are found again."""
    if not params:
        return url
    separator = "&" if "?" in url else "?"
    return url + separator + urlencode(sorted((k, str(v)) for k, v in params.items()))


class Poller(Protocol):
    """What a polled source hands its HTTP client: its name, the health that counts its
    requests, and the sleep and clock tests inject."""

    name: str
    health: Health
    sleep: Callable[[float], None]
    clock: Callable[[], float]


class HttpClient:
    """Requests for one source. ``validators`` is the source's stored validators: the client
    reads and updates it; the poll returns it to be committed with the events."""

    def __init__(
        self,
        source: str,
        health: Health,
        *,
        headers: Callable[[], Mapping[str, str]] = dict,
        validators: dict[str, Validator] | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_attempts: int = 5,
        backoff: float = 1.0,
        concurrency: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        session: requests.Session | None = None,
    ) -> None:
        self.source = source
        self.health = health
        self.headers = headers
        self.validators: dict[str, Validator] = validators if validators is not None else {}
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.sleep = sleep
        self.clock = clock
        self.session = session or requests.Session()
        self.slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._rng = random.Random()

    @classmethod
    def for_poll(
        cls,
        source: Poller,
        state: SourceState,
        headers: Callable[[], Mapping[str, str]],
        *,
        concurrency: int = 4,
        session: requests.Session | None = None,
    ) -> HttpClient:
        """The client of one poll of ``source``: its name, health, sleep and clock, and a copy
        of the validators stored with its state (the poll returns them to be committed)."""
        return cls(
            source.name,
            source.health,
            headers=headers,
            validators=dict(state.validators),
            concurrency=concurrency,
            sleep=source.sleep,
            clock=source.clock,
            session=session,
        )

    @classmethod
    def bearer_for_poll(
        cls, source: Poller, state: SourceState, token: str, *, concurrency: int = 4
    ) -> HttpClient:
        """:meth:`for_poll` sending ``Authorization: Bearer <token>``."""
        return cls.for_poll(
            source, state, lambda: {"Authorization": f"Bearer {token}"}, concurrency=concurrency
        )

    # --- public ------------------------------------------------------------------------------

    def get(
        self, url: str, params: Mapping[str, Any] | None = None, *, conditional: bool = True
    ) -> Response:
        """GET ``url``; with ``conditional``, send the stored validators (a 304 comes back as
        ``Response.not_modified``) and keep the new ones."""
        full = with_query(url, params)
        extra: dict[str, str] = {}
        if conditional:
            with self._lock:
                known = self.validators.get(full)
            if known is not None:
                if known.etag:
                    extra["If-None-Match"] = known.etag
                if known.last_modified:
                    extra["If-Modified-Since"] = known.last_modified
        response = self.request("GET", full, headers=extra)
        if conditional and response.status == 200:
            etag = response.headers.get("ETag", "")
            last_modified = response.headers.get("Last-Modified", "")
            if etag or last_modified:
                with self._lock:
                    self.validators[full] = Validator(etag, last_modified)
        return response

    def pages(
        self, url: str, params: Mapping[str, Any] | None = None, *, conditional: bool = True
    ) -> Iterator[Response]:
        """Every page of a list, following ``Link: rel="next"`` to the end. Only the first
        page is conditional: when it is not modified, the list is not either."""
        response = self.get(url, params, conditional=conditional)
        yield response
        if response.not_modified:
            return
        next_url = response.next_url()
        while next_url:
            response = self.get(next_url, conditional=False)
            yield response
            next_url = response.next_url()

    def post_json(self, url: str, payload: Any) -> Response:
        """POST a JSON body (GraphQL queries); never conditional."""
        body = json.dumps(payload).encode()
        return self.request("POST", url, headers={"Content-Type": "application/json"}, data=body)

    # --- machinery ---------------------------------------------------------------------------

    def request(
        self, method: str, url: str, *, headers: Mapping[str, str], data: bytes | None = None
    ) -> Response:
        last_problem = ""
        for attempt in range(1, self.max_attempts + 1):
            with self.slots:
                try:
                    raw = self.session.request(
                        method,
                        url,
                        headers={**self.headers(), **headers},
                        data=data,
                        timeout=self.timeout,
                        allow_redirects=True,
                    )
                except requests.RequestException as error:
                    self.health.request(self.source, "error", None)
                    last_problem = type(error).__name__
                    self._wait_backoff(attempt, f"{method} {_public(url)}: {last_problem}")
                    continue
            remaining = _rate_limit_remaining(raw.headers)
            # GitHub keeps separate limits (core REST, graphql, search) and names the one an
            # answer counts against; GitLab has one.
            resource = raw.headers.get("x-ratelimit-resource", "")
            self.health.request(self.source, raw.status_code, remaining, resource)
            if raw.status_code in (200, 201, 202, 204, 304):
                return Response(url, raw.status_code, raw.headers, raw.content, method)
            last_problem = f"HTTP {raw.status_code}"
            wait = self._rate_limit_wait(raw)
            if wait is not None:
                if wait > MAX_RATE_LIMIT_WAIT:
                    raise SourceError(
                        f"{method} {_public(url)}: rate limited for {wait:.0f} s more;"
                        " the next poll resumes"
                    )
                log.info("%s: rate limited, waiting %.1f s", self.source, wait)
                self.sleep(wait)
                continue
            if raw.status_code in RETRY_STATUSES:
                self._wait_backoff(attempt, f"{method} {_public(url)}: {last_problem}")
                continue
            raise HttpStatusError(
                f"{method} {_public(url)}: {last_problem}{_reason(raw)}", raw.status_code
            )
        raise SourceError(
            f"{method} {_public(url)}: {last_problem} after {self.max_attempts} attempts"
        )

    def _wait_backoff(self, attempt: int, problem: str) -> None:
        if attempt >= self.max_attempts:
            return
        delay = min(60.0, self.backoff * 2 ** (attempt - 1)) * self._rng.uniform(0.5, 1.5)
        log.info("%s: %s, retrying in %.1f s", self.source, problem, delay)
        self.sleep(delay)

    def _rate_limit_wait(self, raw: requests.Response) -> float | None:
        """Seconds to wait before retrying a rate-limited response, or None if it is not one."""
        status = raw.status_code
        to_wait = raw.headers.get("X-RateLimit-ToWait-Sec")  # Qualys: 409 on its rate limit
        if status == 409 and to_wait:
            try:
                return max(0.0, float(to_wait))
            except ValueError:
                return 60.0
        if status == 400 and not _graphql_rate_limited(raw):
            return None  # Linear answers its rate limit with a 400 and a RATELIMITED error
        if status not in (400, 403, 429):
            return None
        retry_after = raw.headers.get("Retry-After")
        if retry_after:
            return _retry_after_seconds(retry_after, self.clock())
        linear = _linear_reset(raw.headers)
        if linear is not None:
            return max(0.0, linear - self.clock()) + 1.0
        if status == 400:
            return 60.0
        remaining = _rate_limit_remaining(raw.headers)
        reset = raw.headers.get("x-ratelimit-reset") or raw.headers.get("RateLimit-Reset")
        if remaining == 0 and reset:
            try:
                at = float(reset)
            except ValueError:
                return 60.0
            # An epoch time (GitHub, GitLab); seconds from now where the answer names the
            # limit's period too (Datadog: X-RateLimit-Period and X-RateLimit-Reset).
            relative = "X-RateLimit-Period" in raw.headers
            return (at if relative else max(0.0, at - self.clock())) + 1.0
        if status == 429 or "secondary rate limit" in raw.text.lower():
            return 60.0  # GitHub: wait at least a minute when no header says how long
        return None


def _rate_limit_remaining(headers: Mapping[str, str]) -> float | None:
    value = (
        headers.get("x-ratelimit-remaining")
        or headers.get("RateLimit-Remaining")
        or headers.get("X-RateLimit-Requests-Remaining")  # Linear
    )
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _linear_reset(headers: Mapping[str, str]) -> float | None:
    """When Linear's exhausted budget (requests or query complexity: its
    ``X-RateLimit-{Requests,Complexity}-Remaining`` at 0) refills: the matching ``-Reset``,
    epoch milliseconds, in seconds; None when no budget is exhausted."""
    resets = []
    for budget in ("Requests", "Complexity"):
        remaining = headers.get(f"X-RateLimit-{budget}-Remaining")
        reset = headers.get(f"X-RateLimit-{budget}-Reset")
        try:
            if remaining is not None and reset and float(remaining) <= 0:
                resets.append(float(reset) / 1000.0)
        except ValueError:
            continue
    return max(resets) if resets else None


def _graphql_rate_limited(raw: requests.Response) -> bool:
    """A GraphQL answer whose error says it was rate limited (Linear: ``extensions.code``
    ``RATELIMITED``)."""
    try:
        errors = raw.json().get("errors")
    except (ValueError, AttributeError):
        return False
    return isinstance(errors, list) and any(
        isinstance(error, dict)
        and str((error.get("extensions") or {}).get("code", "")).upper() == "RATELIMITED"
        for error in errors
    )


def _retry_after_seconds(value: str, now: float) -> float:
    """``Retry-After`` is seconds or an HTTP date."""
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - now)


def _reason(raw: requests.Response) -> str:
    """A short reason from an error body (GitHub and GitLab send ``message``, Jira
    ``errorMessages``: a bad JQL query says what is wrong with it; JSON:API ``errors``, OData
    and OAuth ``error``)."""
    if raw.content.lstrip().startswith(b"<"):
        return _xml_reason(raw.content)
    try:
        body = raw.json()
        message = body.get("message", "") or "; ".join(map(str, body.get("errorMessages") or []))
        # JSON:API (Snyk): {"errors": [{"status": "404", "detail": "..."}]}
        errors = body.get("errors") if not message else None
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            message = errors[0].get("detail") or errors[0].get("title") or ""
        elif isinstance(errors, list) and errors:  # Datadog: {"errors": ["Forbidden"]}
            message = "; ".join(map(str, errors))
        # OData (Microsoft APIs): {"error": {"code": ..., "message": ...}}; OAuth token
        # endpoints: {"error": "invalid_client", "error_description": "AADSTS...\r\nTrace ID..."}
        error = body.get("error") if not message else None
        if isinstance(error, dict):
            message = error.get("message") or error.get("code") or ""
        elif isinstance(error, str):
            message = str(body.get("error_description") or error).splitlines()[0]
    except (ValueError, AttributeError, TypeError):
        return ""
    # Redacted before it is cut short: a credential cut in two would no longer be found.
    return f" ({redact(str(message))[:200]})" if message else ""


def _xml_reason(body: bytes) -> str:
    """The reason of an XML error answer: Qualys's ``SIMPLE_RETURN`` ``CODE`` and ``TEXT``."""
    try:
        root = parse_xml(body, "error answer")
    except XmlError:
        return ""
    code, text = root.findtext("RESPONSE/CODE"), root.findtext("RESPONSE/TEXT")
    if not text:
        return ""
    reason = (f"{code}: " if code else "") + text.strip()
    return f" ({redact(reason)[:200]})"
