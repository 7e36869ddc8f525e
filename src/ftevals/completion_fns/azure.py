"""Azure OpenAI (``azure/<deployment>``) through the official ``AzureOpenAI`` client.

Settings, each from a completion arg, else the environment, else ``./.env``:

- ``endpoint``: ``AZURE_OPENAI_ENDPOINT`` (``https://<resource>.openai.azure.com``);
- ``api_version``: ``AZURE_OPENAI_API_VERSION`` or ``OPENAI_API_VERSION`` (default below);
- credentials: an API key in ``AZURE_OPENAI_API_KEY`` (sent as ``api-key``), or a
  Microsoft Entra ID token in ``AZURE_OPENAI_AD_TOKEN`` (sent as ``Authorization: Bearer``),
  e.g. from ``az account get-access-token --resource https://cognitiveservices.azure.com``.
  ``auth=key`` or ``auth=token`` picks one; by default a key is used if set, else a token.
  ``api_key_env`` / ``token_env`` name other variables.

Deployment names are yours, so calls are priced by the model the response names
(``gpt-4o-2024-08-06`` -> ``gpt-4o``), or by ``price_model=`` when given.
"""

from __future__ import annotations

from typing import Any

from ftevals.completion_fns._credentials import Secret, lookup, setting
from ftevals.completion_fns.openai_chat import ChatAPICompletionFn, _own
from ftevals.errors import FtevalsError

DEFAULT_API_VERSION = "2024-10-21"
AUTH_MODES = ("auto", "key", "token")


def _credential(auth: str, key_env: str, token_env: str) -> tuple[Secret, str]:
    if auth not in AUTH_MODES:
        raise FtevalsError(f"auth must be one of {', '.join(AUTH_MODES)}, got {auth!r}")
    key = lookup(key_env) if auth in ("auto", "key") else None
    if key is not None:
        return key, "key"
    token = lookup(token_env) if auth in ("auto", "token") else None
    if token is not None:
        return token, "token"
    wanted = {"auto": f"${key_env} or ${token_env}", "key": f"${key_env}", "token": f"${token_env}"}
    raise FtevalsError(
        f"azure needs credentials in {wanted[auth]}: set them in the environment or in .env "
        "in the working directory (never on the command line)"
    )


class AzureCompletionFn(ChatAPICompletionFn):
    """Chat completions from an Azure OpenAI deployment.

    Args:
        deployment: the deployment name (sent as the model; the client puts it in the URL).
        endpoint, api_version, auth, api_key_env, token_env: see the module docstring.
        (and every argument of :class:`ChatAPICompletionFn`)
    """

    provider = "azure"

    def __init__(
        self,
        deployment: str | None = None,
        endpoint: str | None = None,
        api_version: str | None = None,
        auth: str = "auto",
        api_key_env: str = "AZURE_OPENAI_API_KEY",
        token_env: str = "AZURE_OPENAI_AD_TOKEN",
        registry: Any = None,
        **kwargs: Any,
    ) -> None:
        if not deployment:
            raise FtevalsError("`azure` needs a deployment: --completion_args deployment=NAME")
        self.endpoint = endpoint or setting("AZURE_OPENAI_ENDPOINT")
        if not self.endpoint:
            raise FtevalsError(
                "azure needs an endpoint: set AZURE_OPENAI_ENDPOINT "
                "(https://<resource>.openai.azure.com) or --completion_args endpoint=URL"
            )
        self.api_version = (
            api_version
            or setting("AZURE_OPENAI_API_VERSION")
            or setting("OPENAI_API_VERSION")
            or DEFAULT_API_VERSION
        )
        secret, self.auth = _credential(auth, api_key_env, token_env)
        super().__init__(deployment, api_key=secret, **_own(kwargs, f"azure/{deployment}"))

    def make_client(self) -> Any:
        import openai

        assert self.secret is not None and self.endpoint is not None
        value = self.secret.reveal()
        return openai.AzureOpenAI(
            azure_endpoint=self.endpoint,
            api_version=self.api_version,
            api_key=value if self.auth == "key" else None,
            azure_ad_token=value if self.auth == "token" else None,
            timeout=self.timeout,
            max_retries=0,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(deployment={self.model!r}, endpoint={self.endpoint!r}, "
            f"api_version={self.api_version!r}, auth={self.auth!r})"
        )
