"""ACME Renewal Information (RFC 9773): fetch suggested windows before planning.

Unauthenticated GETs, so `plan` can look them up in CI without any secret.
Failures never stop a plan: the certificate falls back to the lifetime rule and
the plan says why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from certplan.model.observed import AriWindow
from certplan.observe.ari_cache import AriCache


@dataclass(frozen=True)
class AriLookup:
    """One certificate whose renewal window is to be asked of its CA."""

    name: str
    directory: str
    cert_id: str
    ca_bundle: str | None = None


def retry_after_seconds(value: str | None, now: datetime) -> int | None:
    """Retry-After as whole seconds (delta-seconds or an HTTP date); None if absent/bad."""
    from certplan.ca.polling import parse_retry_after  # one parser for both uses

    seconds = parse_retry_after(value, now)
    return None if seconds is None else int(seconds)


def parse_window(body: Any, retry_after: str | None,
                 now: datetime | None = None) -> AriWindow:
    """Parse a renewalInfo answer; ValueError says what is malformed."""
    if not isinstance(body, dict) or not isinstance(body.get("suggestedWindow"), dict):
        raise ValueError("answer has no suggestedWindow object")
    window = body["suggestedWindow"]
    try:
        start = datetime.fromisoformat(str(window["start"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(window["end"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        raise ValueError("suggestedWindow needs RFC 3339 start and end") from None
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("suggestedWindow times carry no time zone")
    if end < start:
        raise ValueError("suggestedWindow ends before it starts")
    explanation = body.get("explanationURL")
    seconds = retry_after_seconds(retry_after, now or datetime.now(UTC))
    return AriWindow(start=start, end=end,
                     explanation_url=explanation if isinstance(explanation, str) else None,
                     retry_after=seconds)


_UNREACHABLE = object()


class _DirectoryFailed(Exception):
    """The CA's directory answered, but not with a directory."""
Getter = Callable[[str, str | None, float], tuple[int, Any, Mapping[str, str]]]


def _http_get(url: str, ca_bundle: str | None, timeout: float) -> tuple[int, Any,
                                                                     Mapping[str, str]]:
    import requests

    verify: bool | str = ca_bundle or True
    resp = requests.get(url, timeout=timeout, verify=verify,
                        headers={"User-Agent": "certplan"})
    try:
        body = resp.json()
    except ValueError:
        body = None
    return resp.status_code, body, resp.headers


def fetch_windows(lookups: list[AriLookup], timeout: float = 5.0, get: Getter = _http_get,
                  cache_path: Path | None = None, now: datetime | None = None,
                  ) -> tuple[dict[str, AriWindow], dict[str, str]]:
    """name -> window for each certificate whose CA answered; name -> note otherwise.

    With `cache_path`, a window is asked for again only once the CA's Retry-After
    has passed (RFC 9773 4.3.2), and the last window seen stands in when the CA
    cannot be reached."""
    cache = AriCache.load(cache_path)
    now = now or datetime.now(UTC)
    directories: dict[tuple[str, str | None], Any] = {}
    windows: dict[str, AriWindow] = {}
    notes: dict[str, str] = {}

    def base_url(t: AriLookup) -> str | None:
        key = (t.directory, t.ca_bundle)
        if key not in directories:
            directories[key] = _UNREACHABLE
            status, body, _ = get(t.directory, t.ca_bundle, timeout)
            directories[key] = body.get("renewalInfo") if status == 200 and \
                isinstance(body, dict) else _DirectoryFailed(
                    f"the directory {t.directory} answered HTTP {status}"
                    + ("" if status != 200 else " without a JSON object"))
        value = directories[key]
        if value is _UNREACHABLE:
            raise ConnectionError("directory unreachable")
        if isinstance(value, _DirectoryFailed):
            raise value
        return value if isinstance(value, str) else None

    failed: list[AriLookup] = []  # temporary failures: the last window seen stands in

    def one(t: AriLookup) -> None:
        try:
            url = base_url(t)
            if not url:
                notes[t.name] = "the CA offers no renewal information"
                return
            status, body, headers = get(f"{url.rstrip('/')}/{t.cert_id}", t.ca_bundle, timeout)
            if status != 200:
                notes[t.name] = f"renewalInfo answered HTTP {status}"
                if status >= 500:
                    failed.append(t)
                return
            windows[t.name] = parse_window(body, headers.get("Retry-After"), now)
            cache.put(AriCache.key(t.directory, t.cert_id), windows[t.name], now)
        except _DirectoryFailed as exc:
            notes[t.name] = str(exc)
            failed.append(t)
        except ValueError as exc:
            notes[t.name] = f"malformed renewalInfo answer: {exc}"
        except Exception as exc:  # network failures of any kind: plan goes on without ARI
            notes[t.name] = f"could not reach the CA ({type(exc).__name__})"
            failed.append(t)

    by_dir: dict[tuple[str, str | None], list[AriLookup]] = {}
    for t in lookups:
        if (cached := cache.fresh(AriCache.key(t.directory, t.cert_id), now)) is not None:
            windows[t.name] = cached  # the CA's Retry-After has not passed yet
        else:
            by_dir.setdefault((t.directory, t.ca_bundle), []).append(t)
    for group in by_dir.values():  # one directory fetch per CA, then parallel lookups
        one(group[0])
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(one, group[1:]))
    for t in failed:
        if (old := cache.stale(AriCache.key(t.directory, t.cert_id))) is not None:
            windows[t.name] = old
            notes[t.name] += "; using the window fetched before"
    cache.save()
    return windows, notes
