"""Any OpenAI-compatible endpoint (``openai-compatible``), and the OctoAI preset (``octoai/...``).

vLLM, Ollama, TGI, llama.cpp's server, LM Studio and ``ftevals serve`` all speak OpenAI's
chat completions::

    oaieval openai-compatible prompt-safety --registry_path registry \\
        --completion_args base_url=http://localhost:8000/v1,model=my-model,api_key_env=MY_KEY

``api_key_env`` names the variable (environment or ``./.env``) holding the key; without it
no key is needed (``EMPTY`` is sent, as local servers expect). Without ``model``, the
server's ``/v1/models`` is asked and its single model is used.

OctoAI shut its service down on 2024-10-31. ``octoai/<model>`` is kept as a named preset
(base URL ``https://text.octoai.run/v1``, key ``OCTOAI_API_KEY``) so that old configurations
still run: point them at any compatible endpoint with ``base_url=...`` (or
``OCTOAI_BASE_URL``).
"""

from __future__ import annotations

from typing import Any

from ftevals.completion_fns._credentials import require, setting
from ftevals.completion_fns._retry import CompletionFailed
from ftevals.completion_fns.openai_chat import ChatAPICompletionFn, _own
from ftevals.errors import FtevalsError

NO_KEY = "EMPTY"
OCTOAI_BASE_URL = "https://text.octoai.run/v1"
OCTOAI_SHUTDOWN = "2024-10-31"


class OpenAICompatibleCompletionFn(ChatAPICompletionFn):
    """Chat completions from any OpenAI-compatible server.

    Args:
        base_url: the server's API root, e.g. ``http://localhost:8000/v1``.
        model: model name; default: the only model the server lists.
        api_key_env: name of the variable that holds the key (optional).
        (and every argument of :class:`ChatAPICompletionFn`)
    """

    provider = "openai-compatible"
    default_base_url: str | None = None
    default_key_env: str | None = None
    base_url_env: str | None = None

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key_env: str | None = None,
        registry: Any = None,
        **kwargs: Any,
    ) -> None:
        env_url = setting(self.base_url_env) if self.base_url_env else None
        url = base_url or env_url or self.default_base_url
        if not url:
            raise FtevalsError(
                f"`{self.provider}` needs base_url: --completion_args "
                "base_url=http://HOST:PORT/v1,model=NAME[,api_key_env=VAR]"
            )
        self.base_url = url.rstrip("/")
        key_env = api_key_env or self.default_key_env
        what = f"{self.provider} at {self.base_url}"
        key = require(key_env, what) if key_env else None
        super().__init__(model or "", api_key=key, **_own(kwargs, self.provider))
        if not self.model:  # reasoning-model parameters then only with reasoning=true
            self.model = self._only_model()

    def make_client(self) -> Any:
        import openai

        return openai.OpenAI(
            api_key=self.secret.reveal() if self.secret else NO_KEY,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=0,
        )

    def _only_model(self) -> str:
        try:
            listed = self.retry.call(lambda: [m.id for m in self.client.models.list()], self.redact)
        except CompletionFailed as err:
            raise FtevalsError(
                f"{self.base_url}: no model given and /models failed ({err.reason}); "
                "pass --completion_args model=NAME"
            ) from None
        if len(listed) != 1:
            raise FtevalsError(
                f"{self.base_url} serves {len(listed)} models ({', '.join(listed[:10])}): "
                "pass --completion_args model=NAME"
            )
        return str(listed[0])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={self.base_url!r})"


class OctoAICompletionFn(OpenAICompatibleCompletionFn):
    """``octoai/<model>``: a preset of ``openai-compatible``.

    OctoAI shut down on 2024-10-31, so the default base URL no longer answers; give
    ``base_url=`` (or ``OCTOAI_BASE_URL``) of any compatible endpoint serving the model.
    The key is read from ``OCTOAI_API_KEY`` unless ``api_key_env`` names another variable.
    """

    provider = "octoai"
    default_base_url = OCTOAI_BASE_URL
    default_key_env = "OCTOAI_API_KEY"
    base_url_env = "OCTOAI_BASE_URL"
