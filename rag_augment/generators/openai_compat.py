"""Chat back end for any OpenAI-compatible server: OpenAI, Azure OpenAI, vLLM, llama.cpp's servers, Ollama.

Retries are ours, not the client's (its max_retries is 0): we honour Retry-After, back off with jitter, and turn a
request that still fails into Completion.error so one bad chunk never loses the rest of the batch. Transient:
429/408/409/5xx, connection resets, timeouts, and 200 answers that are broken (a JSON body cut short, a proxy's
HTML page, no choices). `timeout` bounds each try and `max_retries` the tries after the first, so a hung server
costs at most about timeout x (max_retries + 1) per request plus the back-off between tries.
The API key is read from a named environment variable and lives only inside the client object; every error text
is masked (the key and any 8+ character fragment of it) before it is cut to length. openai_generator runs this back
end in a child process (openai_worker.py), so the key never enters the indexing process at all.
"""
from __future__ import annotations

import email.utils
import importlib
import json
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlparse

import openai

from rag_augment.errors import ConfigError
from rag_augment.generators.base import Completion, SamplingParams
from rag_augment.generators.redact import Secret

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

DEFAULT_TIMEOUT = 60.0   # seconds per try
DEFAULT_MAX_RETRIES = 2  # tries after the first: 3 in all
ERROR_CHARS = 300        # an error text is cut to this length, after masking

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}
RETRY_STATUS = {408, 409, 429}  # plus every 5xx


def _is_local(base_url: str | None) -> bool:
    return bool(base_url) and (urlparse(base_url).hostname or "") in LOCAL_HOSTS


def retry_after_seconds(headers: Any, now: float | None = None) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date) or retry-after-ms; None when absent or unreadable."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _http_module() -> Any:
    """The HTTP library the installed openai client is built on: httpx for openai 1.x, httpx2 for 3.x."""
    base = next(c for c in openai.DefaultHttpxClient.__mro__[1:] if c.__name__ == "Client")
    return importlib.import_module(base.__module__.partition(".")[0])


_http = _http_module()
_SyncByteStream: Any = _http.SyncByteStream  # a name mypy accepts as a base: the module is found at run time


class _DeadlineStream(_SyncByteStream):
    def __init__(self, inner: Any, deadline: float, request: Any):
        self.inner, self.deadline, self.request = inner, deadline, request

    def __iter__(self):
        for chunk in self.inner:
            if time.monotonic() > self.deadline:
                raise _http.ReadTimeout("the response took longer than the request timeout", request=self.request)
            yield chunk

    def close(self) -> None:
        self.inner.close()


def _deadline_client(timeout: float) -> Any:
    """HTTP timeouts bound each read, so a server that trickles its body a few bytes at a time would never time
    out: this client also bounds the whole response, from sending the request to the body's last byte."""
    def start(request: Any) -> None:
        request.extensions["rag_deadline"] = time.monotonic() + timeout

    def bound(response: Any) -> None:
        deadline = response.request.extensions.get("rag_deadline")
        if deadline is not None:
            response.stream = _DeadlineStream(response.stream, deadline, response.request)

    return openai.DefaultHttpxClient(event_hooks={"request": [start], "response": [bound]})


class MalformedResponse(Exception):
    """A 200 answer that is not a usable completion (no choices, a cut or non-JSON body): retried."""


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, (openai.APIConnectionError, MalformedResponse, _http.TransportError)):
        return True  # APIConnectionError includes APITimeoutError; TransportError: a body cut by a reset
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUS or exc.status_code >= 500
    return isinstance(exc, (openai.APIResponseValidationError, json.JSONDecodeError))  # a body cut short


def check_options(model: str, base_url: str | None, api_key_env: str, timeout: float, max_retries: int,
                  concurrency: int, azure_api_version: str | None) -> None:
    """A one-line ConfigError for the first bad option; a missing key is one except for a server on 127.0.0.1."""
    if not model:
        raise ConfigError("openai.model is required (for Azure: the deployment name)")
    if azure_api_version and not base_url:
        raise ConfigError("openai.base_url (the Azure endpoint) is required with azure_api_version")
    if not os.environ.get(api_key_env) and not _is_local(base_url):
        raise ConfigError(f"the environment variable {api_key_env} holding the API key is not set "
                          f"(only a server on 127.0.0.1/localhost may run without a key)")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ConfigError(f"openai.timeout must be a number of seconds > 0, got {timeout!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigError(f"openai.max_retries must be a whole number >= 0, got {max_retries!r}")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"openai.concurrency must be a whole number >= 1, got {concurrency!r}")


class OpenAIBackend:
    def __init__(self, model: str, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 4, timeout: float = DEFAULT_TIMEOUT, max_retries: int = DEFAULT_MAX_RETRIES,
                 azure_api_version: str | None = None, extra_body: dict[str, Any] | None = None,
                 model_hash: str = "", backoff_base: float = 1.0, backoff_max: float = 60.0,
                 max_retry_after: float = 120.0):
        check_options(model, base_url, api_key_env, timeout, max_retries, concurrency, azure_api_version)
        key = os.environ.get(api_key_env) or "not-needed"  # local servers ignore the key; the client insists
        self.model_id = model
        self.model_hash = model_hash
        self.base_url = base_url
        self.concurrency = concurrency
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self._secret = Secret(key)
        self.extra_body = dict(extra_body or {})
        self.backoff_base, self.backoff_max, self.max_retry_after = backoff_base, backoff_max, max_retry_after
        self._client: openai.OpenAI  # AzureOpenAI is one
        if azure_api_version and base_url:  # check_options: Azure always has its endpoint
            self._client = openai.AzureOpenAI(api_key=key, api_version=azure_api_version, azure_endpoint=base_url,
                                              timeout=timeout, max_retries=0, http_client=_deadline_client(timeout))
        else:
            self._client = openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=0,
                                         http_client=_deadline_client(timeout))

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model_id!r}, base_url={self.base_url!r}, concurrency={self.concurrency})"

    def leaks_secret(self, text: str) -> bool:
        """The quality gate asks: does generated text carry the key, or an 8+ character fragment of it?"""
        return self._secret.found_in(text)

    def complete_batch(self, conversations: list[list[dict[str, str]]], params: SamplingParams) -> list[Completion]:
        if not conversations:
            return []
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(conversations))) as pool:
            return list(pool.map(lambda conv: self._complete_one(conv, params), conversations))

    def _complete_one(self, messages: list[dict[str, str]], params: SamplingParams) -> Completion:
        start = time.perf_counter()
        attempt = 0
        while True:
            try:
                comp = self._request(messages, params)
                comp.seconds = time.perf_counter() - start
                return comp
            except Exception as exc:  # noqa: BLE001 - one request's failure must not sink the batch
                if not _retryable(exc) or attempt >= self.max_retries:
                    return Completion(text="", seconds=time.perf_counter() - start,
                                      error=self._describe(exc, attempt + 1))
                time.sleep(self._delay(exc, attempt))
                attempt += 1

    def _request(self, messages: list[dict[str, str]], params: SamplingParams) -> Completion:
        resp = self._client.chat.completions.create(
            # our messages are plain {"role", "content"} dicts, which is what the client's typed dicts describe
            model=self.model_id, messages=cast("list[ChatCompletionMessageParam]", messages),
            temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_tokens, seed=params.seed,
            extra_body=self.extra_body or None)
        if isinstance(resp, (str, bytes)):  # a non-JSON 200 body (a proxy's HTML page) comes back as text
            raise MalformedResponse("malformed response: not a JSON completion")
        if not getattr(resp, "choices", None):
            raise MalformedResponse("malformed response: no choices")
        choice = resp.choices[0]
        msg = choice.message
        # A structured refusal has no content: keep its text so the parser notes the refusal.
        text = (msg.content if msg is not None else None) or (getattr(msg, "refusal", None) or "")
        usage = getattr(resp, "usage", None)
        return Completion(text=text, prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                          completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
                          finish_reason=choice.finish_reason or "")

    def _delay(self, exc: Exception, attempt: int) -> float:
        response = getattr(exc, "response", None)
        hinted = retry_after_seconds(getattr(response, "headers", None))
        if hinted is not None:
            return min(hinted, self.max_retry_after)
        # Full-range jitter keeps many workers from retrying in lockstep.
        return min(self.backoff_max, self.backoff_base * 2 ** attempt) * (0.5 + random.random() / 2)

    def _describe(self, exc: Exception, attempts: int) -> str:
        status = getattr(exc, "status_code", None)
        head = f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")
        # Error bodies may echo the key: mask first, then cut, so no prefix of it survives the cut.
        detail = self._secret.mask(" ".join(str(exc).split()))
        return f"{head} after {attempts} attempt(s): {detail[:ERROR_CHARS]}"
