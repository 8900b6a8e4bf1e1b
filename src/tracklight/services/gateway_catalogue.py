"""What the gateway pages offer to choose from: providers, a few well-known models each, and the
credentials each provider's kinds of authentication ask for. A compact static list, never fetched."""

from __future__ import annotations

from typing import Any

from tracklight.errors import InvalidParameter

# (provider, model, mode): a short, hand-kept selection; MLflow ships a much larger catalogue. A model
# not listed here can still be named in a model definition: this list only feeds the pages' pickers.
_MODELS: tuple[tuple[str, str, str], ...] = (
    ("openai", "gpt-4o", "chat"),
    ("openai", "gpt-4o-mini", "chat"),
    ("openai", "gpt-4.1", "chat"),
    ("openai", "o3-mini", "chat"),
    ("openai", "text-embedding-3-small", "embedding"),
    ("openai", "text-embedding-3-large", "embedding"),
    ("anthropic", "claude-3-5-sonnet-latest", "chat"),
    ("anthropic", "claude-3-5-haiku-latest", "chat"),
    ("anthropic", "claude-3-7-sonnet-latest", "chat"),
    ("gemini", "gemini-2.0-flash", "chat"),
    ("gemini", "gemini-1.5-pro", "chat"),
    ("gemini", "text-embedding-004", "embedding"),
    ("vertex_ai", "gemini-2.0-flash", "chat"),
    ("vertex_ai", "gemini-1.5-pro", "chat"),
    ("bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0", "chat"),
    ("bedrock", "amazon.titan-embed-text-v2:0", "embedding"),
    ("azure", "gpt-4o", "chat"),
    ("azure", "text-embedding-3-small", "embedding"),
    ("mistral", "mistral-large-latest", "chat"),
    ("mistral", "mistral-embed", "embedding"),
    ("cohere", "command-r-plus", "chat"),
    ("cohere", "embed-english-v3.0", "embedding"),
    ("groq", "llama-3.3-70b-versatile", "chat"),
    ("deepseek", "deepseek-chat", "chat"),
    ("xai", "grok-2-latest", "chat"),
    ("together_ai", "meta-llama/Llama-3.3-70B-Instruct-Turbo", "chat"),
    ("fireworks_ai", "accounts/fireworks/models/llama-v3p1-70b-instruct", "chat"),
    ("databricks", "databricks-meta-llama-3-3-70b-instruct", "chat"),
    ("ollama", "llama3.1", "chat"),
    ("openrouter", "openai/gpt-4o", "chat"),
)
PROVIDERS: tuple[str, ...] = tuple(sorted({p for p, _, _ in _MODELS} | {"sagemaker"}))


def _field(
    name: str, description: str, *, required: bool = True, default: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": "string", "description": description, "required": required}
    if default is not None:
        out["default"] = default
    return out


def _mode(mode: str, title: str, about: str, secrets: list[dict], config: list[dict]) -> dict[str, Any]:
    return {
        "mode": mode,
        "display_name": title,
        "description": about,
        "secret_fields": secrets,
        "config_fields": config,
    }


_REGION = _field("aws_region_name", "AWS region, such as us-east-1", required=False)
_ACCESS_KEYS = [
    _field("aws_access_key_id", "AWS access key id"),
    _field("aws_secret_access_key", "AWS secret access key"),
]
_ROLE = _field("aws_role_name", "ARN of the IAM role to assume")
_SESSION = _field("aws_session_name", "Name of the assumed role's session", required=False)
_AMBIENT_AWS = "the server's own AWS credentials (instance profile, IRSA, ECS task role, shared config)"

# Providers with more than one way to authenticate, or with settings beyond a key; the first is the default.
_AUTH_MODES: dict[str, list[dict[str, Any]]] = {
    "bedrock": [
        _mode(
            "api_key",
            "API Key",
            "An Amazon Bedrock API key (bearer token)",
            [_field("api_key", "Amazon Bedrock API key")],
            [_field("aws_region_name", "AWS region")],
        ),
        _mode(
            "access_keys", "Access Keys", "An AWS access key id and its secret key", _ACCESS_KEYS, [_REGION]
        ),
        _mode(
            "iam_role", "IAM Role Assumption", f"Assume an IAM role with {_AMBIENT_AWS}", [], [_ROLE, _REGION]
        ),
        _mode(
            "default_chain",
            "Default Credential Chain",
            f"Use {_AMBIENT_AWS}",
            [],
            [
                _field("aws_role_name", "ARN of a role to assume (optional)", required=False),
                _SESSION,
                _REGION,
            ],
        ),
    ],
    "sagemaker": [
        _mode(
            "access_keys",
            "Access Keys",
            "An AWS access key id and its secret key",
            _ACCESS_KEYS,
            [_field("aws_region_name", "AWS region")],
        ),
        _mode(
            "iam_role",
            "IAM Role Assumption",
            "Assume an IAM role with the given access keys",
            _ACCESS_KEYS,
            [_ROLE, _SESSION, _field("aws_region_name", "AWS region")],
        ),
        _mode("default_chain", "Default Credential Chain", f"Use {_AMBIENT_AWS}", [], [_SESSION, _REGION]),
    ],
    "azure": [
        _mode(
            "api_key",
            "API Key",
            "An Azure OpenAI key with its resource's endpoint",
            [_field("api_key", "Azure OpenAI key")],
            [
                _field("api_base", "Azure OpenAI endpoint URL"),
                _field("api_version", "API version, such as 2024-02-01"),
            ],
        )
    ],
    "vertex_ai": [
        _mode(
            "service_account_json",
            "Service Account JSON",
            "The JSON key of a Google Cloud service account",
            [_field("vertex_credentials", "Service account JSON key")],
            [
                _field("vertex_project", "Google Cloud project id"),
                _field("vertex_location", "Region", required=False, default="us-central1"),
            ],
        ),
        _mode(
            "default_chain",
            "Application Default Credentials",
            "Use the server's own Google Cloud credentials",
            [],
            [
                _field("vertex_project", "Google Cloud project id"),
                _field("vertex_location", "Region", required=False, default="us-central1"),
            ],
        ),
    ],
    "databricks": [
        _mode(
            "pat_token",
            "Personal Access Token",
            "A Databricks personal access token",
            [_field("api_key", "Personal access token")],
            [_field("api_base", "Workspace URL")],
        ),
        _mode(
            "oauth_m2m",
            "OAuth M2M (Service Principal)",
            "A service principal's OAuth client credentials",
            [_field("client_secret", "OAuth client secret")],
            [_field("api_base", "Workspace URL"), _field("client_id", "OAuth client id")],
        ),
    ],
}


def providers() -> list[str]:
    return list(PROVIDERS)


def models(provider: str | None) -> list[dict[str, Any]]:
    """The listed models (of `provider`, when given), in the shape of MLflow's catalogue entries;
    what the list does not know (capabilities, limits, prices) is null."""
    return [
        {
            "model": model,
            "provider": p,
            "mode": mode,
            "supports_function_calling": None,
            "supports_vision": None,
            "supports_reasoning": None,
            "supports_prompt_caching": None,
            "supports_response_schema": None,
            "max_input_tokens": None,
            "max_output_tokens": None,
            "input_cost_per_token": None,
            "output_cost_per_token": None,
            "modality": None,
            "deprecation_date": None,
            "last_updated_at": None,
        }
        for p, model, mode in _MODELS
        if provider is None or p == provider
    ]


def provider_config(provider: str | None) -> dict[str, Any]:
    """How credentials for `provider` are given; a provider not described here takes a key and an
    optional base URL."""
    if not provider:
        raise InvalidParameter("Provider parameter is required")
    name = provider.lower()
    name = {
        "amazon-bedrock": "bedrock",
        "bedrock_converse": "bedrock",
        "databricks-model-serving": "databricks",
    }.get(name, name)
    modes = _AUTH_MODES.get(name)
    if modes is None:
        title = name.title()
        modes = [
            _mode(
                "api_key",
                "API Key",
                f"A {title} API key",
                [_field("api_key", f"{title} API key")],
                [_field("api_base", f"{title} API base URL", required=False)],
            )
        ]
    return {"auth_modes": modes, "default_mode": modes[0]["mode"]}
