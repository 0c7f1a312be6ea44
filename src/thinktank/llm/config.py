"""Model addressing: short strings and pydantic configs → :class:`ChatModel`.

Accepted strings::

    openai:gpt-4o-mini                    OpenAI (key from OPENAI_API_KEY; OPENAI_BASE_URL honoured)
    openai:NAME@http://host:port/v1       any OpenAI-compatible server
    vllm:NAME[@URL]                       vLLM        (default http://127.0.0.1:8000/v1)
    ollama:NAME[@URL]                     Ollama      (default http://127.0.0.1:11434/v1)
    llamacpp:NAME[@URL]                   llama.cpp   (default http://127.0.0.1:8080/v1)
    local:smollm2                         the embedded model, started on demand

With no model given, ``THINKTANK_MODEL`` is used, else ``local:smollm2``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError

from thinktank._strict import StrictModel
from thinktank.errors import ConfigError
from thinktank.llm.base import Capabilities, ChatModel
from thinktank.llm.cache import CacheMode, ResponseCache
from thinktank.llm.retry import RetryPolicy

_PROVIDERS: dict[str, dict[str, Any]] = {
    "openai": {"base_url": None, "api_key_env": "OPENAI_API_KEY"},
    "vllm": {"base_url": "http://127.0.0.1:8000/v1", "api_key_env": "VLLM_API_KEY"},
    "ollama": {
        "base_url": "http://127.0.0.1:11434/v1",
        "api_key_env": "OLLAMA_API_KEY",
        "native_n": False,
    },
    "llamacpp": {
        "base_url": "http://127.0.0.1:8080/v1",
        "api_key_env": "LLAMACPP_API_KEY",
        "native_n": False,
    },
}

ACCEPTED_FORMS = (
    "openai:MODEL, openai:MODEL@BASE_URL, vllm:MODEL[@BASE_URL], ollama:MODEL[@BASE_URL], "
    "llamacpp:MODEL[@BASE_URL], local:smollm2"
)


class _Common(StrictModel):
    concurrency: int = Field(default=32, ge=1)
    """Requests in flight to this endpoint (also sizes the HTTP connection pool)."""
    timeout_s: float = Field(default=120.0, gt=0)
    """Read timeout of one request."""
    connect_timeout_s: float = Field(default=5.0, gt=0)
    """Connect timeout of one request, apart from the read timeout: an address where
    nothing answers fails in seconds, not after ``timeout_s``."""
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    """Retry policy (the only retry layer)."""
    default_max_tokens: int = Field(default=1024, ge=1)
    """``max_tokens`` sent when the caller gives none, so budgets see a worst case."""
    cache_path: str | None = None
    """SQLite response cache file; off when unset."""
    cache_mode: CacheMode = "read_write"
    """``read_write`` or ``replay`` (a miss raises instead of calling the endpoint)."""

    def _cache(self) -> ResponseCache | None:
        return ResponseCache(self.cache_path, mode=self.cache_mode) if self.cache_path else None


class OpenAIModelConfig(_Common):
    """Any OpenAI-compatible endpoint."""

    type: Literal["openai"] = "openai"
    model: str
    """Model name as the endpoint knows it."""
    base_url: str | None = None
    """Endpoint root ending in ``/v1``; default OpenAI's API (or ``OPENAI_BASE_URL``)."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the key (keys are never stored in configs)."""
    model_id: str | None = None
    """Name used for prices, cache keys and records; default ``model``."""
    native_n: bool = True
    """Endpoint accepts ``n>1``; when wrong it is detected and fanned out anyway."""
    tool_mode: Literal["native", "text"] = "native"
    """``native`` function calling or the text protocol (:mod:`thinktank.llm.toolcall_text`)."""
    json_schema: bool = True
    """Endpoint supports ``response_format`` with a JSON schema."""
    extra_body: dict[str, Any] | None = None
    """Extra JSON fields sent with every request (provider-specific options)."""
    transport: Literal["aiohttp", "httpcore"] = "aiohttp"
    """HTTP transport under the SDK's HTTP client (httpx2): aiohttp scales to wide fan-out;
    ``httpcore`` is the client's own connection pool."""

    def build(self) -> ChatModel:
        from thinktank.llm.openai import OpenAICompatModel

        return OpenAICompatModel(
            self.model,
            base_url=self.base_url,
            api_key_env=self.api_key_env,
            model_id=self.model_id,
            concurrency=self.concurrency,
            timeout_s=self.timeout_s,
            connect_timeout_s=self.connect_timeout_s,
            retry=self.retry,
            capabilities=Capabilities(
                native_n=self.native_n,
                native_tools=self.tool_mode == "native",
                json_schema=self.json_schema,
            ),
            default_max_tokens=self.default_max_tokens,
            cache=self._cache(),
            extra_body=self.extra_body,
            transport=self.transport,
        )


class LocalModelConfig(_Common):
    """The embedded llama.cpp model, started on demand (plumbing checks only)."""

    type: Literal["local"] = "local"
    name: Literal["smollm2"] = "smollm2"
    """Which embedded model."""
    concurrency: int = Field(default=2, ge=1)
    """Requests in flight; the embedded server is small and CPU-bound."""
    default_max_tokens: int = Field(default=256, ge=1)
    """Short replies keep the CPU-bound model fast."""

    def build(self) -> ChatModel:
        from thinktank.llm.local import ensure_local_server
        from thinktank.llm.openai import OpenAICompatModel

        server = ensure_local_server(self.name)
        return OpenAICompatModel(
            self.name,
            base_url=server.base_url,
            model_id=f"local:{self.name}",
            concurrency=self.concurrency,
            timeout_s=self.timeout_s,
            connect_timeout_s=self.connect_timeout_s,
            retry=self.retry,
            capabilities=server.capabilities,
            default_max_tokens=self.default_max_tokens,
            cache=self._cache(),
        )


ModelConfig = Annotated[OpenAIModelConfig | LocalModelConfig, Field(discriminator="type")]
_ADAPTER: TypeAdapter[OpenAIModelConfig | LocalModelConfig] = TypeAdapter(ModelConfig)


def default_model_spec() -> str:
    return os.environ.get("THINKTANK_MODEL") or "local:smollm2"


def parse_model(spec: str, **overrides: Any) -> OpenAIModelConfig | LocalModelConfig:
    """Turn a model string into its config; unknown forms list the accepted ones."""
    spec = spec.strip()
    provider, sep, rest = spec.partition(":")
    if not sep or not rest or provider not in {*_PROVIDERS, "local"}:
        raise ConfigError(f"unknown model {spec!r}; accepted forms: {ACCEPTED_FORMS}")
    if provider == "local":
        if rest != "smollm2":
            raise ConfigError(
                f"unknown embedded model {rest!r}; the embedded model is local:smollm2"
            )
        return LocalModelConfig(**overrides)
    name, at, url = rest.partition("@")
    if not name or (at and not url.startswith(("http://", "https://"))):
        raise ConfigError(f"malformed model {spec!r}; accepted forms: {ACCEPTED_FORMS}")
    fields: dict[str, Any] = {k: v for k, v in _PROVIDERS[provider].items() if v is not None}
    fields["model"] = name
    if at:
        fields["base_url"] = url
    if provider != "openai":
        fields["model_id"] = f"{provider}:{name}"
    fields.update(overrides)
    return OpenAIModelConfig(**fields)


def model_config(
    value: str | dict[str, Any] | OpenAIModelConfig | LocalModelConfig | None,
) -> OpenAIModelConfig | LocalModelConfig:
    """Normalise a string, dict or config into a validated config."""
    if value is None:
        return parse_model(default_model_spec())
    if isinstance(value, (OpenAIModelConfig, LocalModelConfig)):
        return value
    if isinstance(value, str):
        if value.endswith((".yaml", ".yml", ".json")) and Path(value).exists():
            return _model_config_file(value)
        return parse_model(value)
    try:
        return _ADAPTER.validate_python(value)
    except ValidationError as exc:
        raise ConfigError(f"invalid model config: {exc}") from exc


def _model_config_file(path: str) -> OpenAIModelConfig | LocalModelConfig:
    """A model config from a YAML/JSON file; errors name the file, line and field."""
    from thinktank._configfile import read

    doc = read(path, "model config")
    try:
        return _ADAPTER.validate_python(doc.mapping("model config"))
    except ValidationError as exc:
        raise ConfigError(doc.explain(exc, "model config", skip=("openai", "local"))) from exc


def load_model(
    value: str | dict[str, Any] | OpenAIModelConfig | LocalModelConfig | ChatModel | None = None,
    **overrides: Any,
) -> ChatModel:
    """Build a :class:`ChatModel` from a string, dict, config, or pass one through."""
    if isinstance(value, ChatModel):
        return value
    cfg = model_config(value)
    if overrides:
        cfg = cfg.model_copy(update=overrides)
    return cfg.build()
