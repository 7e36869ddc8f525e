"""Azure OpenAI (``azure/<deployment>``) through the official ``AzureOpenAI`` client.

Settings, each from a completion arg, else the environment, else ``./.env``:

- ``endpoint``: ``AZURE_OPENAI_ENDPOINT`` (``https://<resource>.openai.azure.com``);
- ``api_version``: ``AZURE_OPENAI_API_VERSION`` or ``OPENAI_API_VERSION`` (default below);
- credentials, chosen by ``auth``:

  - ``key``: an API key in ``AZURE_OPENAI_API_KEY`` (sent as ``api-key``);
  - ``token``: a fixed Microsoft Entra ID token in ``AZURE_OPENAI_AD_TOKEN`` (sent as
    ``Authorization: Bearer``). It is never refreshed, and such tokens expire after
    60-90 minutes, so it suits short runs only;
  - ``token_command``: a refreshing Entra ID token, printed by a command
    (``token_command=``, else ``AZURE_OPENAI_TOKEN_COMMAND``, else
    :data:`DEFAULT_TOKEN_COMMAND`, Azure CLI's ``az account get-access-token``). The command
    is split with :func:`shlex.split` and run without a shell; its stdout (stripped) is the
    token. The token is cached and the command run again once it is ``token_ttl`` seconds
    old (default 2700), or after the service answers 401 (one new token and one retry per
    call, never a loop);
  - ``entra``: ``azure-identity``'s ``DefaultAzureCredential`` through
    ``get_bearer_token_provider`` (refreshes by itself). That package is not a dependency
    of ftevals: ``pip install azure-identity``;
  - ``auto`` (default): a key if one is set, else a fixed token, else the token command if
    ``token_command=`` or ``AZURE_OPENAI_TOKEN_COMMAND`` is given.

  ``api_key_env`` / ``token_env`` name other variables. With ``token_command`` and ``entra``
  the official client asks for a token before every request (``azure_ad_token_provider``).

Tokens are secrets like keys: they are never logged, recorded, shown in a ``repr`` or put
in an error message (a failing command is reported by its first word and exit status only;
its output is not shown, since it may hold a token).

Deployment names are yours, so calls are priced by the model the response names
(``gpt-4o-2024-08-06`` -> ``gpt-4o``), or by ``price_model=`` when given.
"""

from __future__ import annotations

import importlib
import logging
import shlex
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ftevals.completion_fns._credentials import Secret, lookup, setting
from ftevals.completion_fns._retry import float_arg
from ftevals.completion_fns.openai_chat import ChatAPICompletionFn, _own
from ftevals.errors import FtevalsError

DEFAULT_API_VERSION = "2024-10-21"
AUTH_MODES = ("auto", "key", "token", "token_command", "entra")
TOKEN_COMMAND_ENV = "AZURE_OPENAI_TOKEN_COMMAND"
DEFAULT_TOKEN_COMMAND = (
    "az account get-access-token --resource https://cognitiveservices.azure.com "
    "--query accessToken -o tsv"
)
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
DEFAULT_TOKEN_TTL_S = 2700.0
DEFAULT_TOKEN_TIMEOUT_S = 60.0
logger = logging.getLogger(__name__)


class TokenCommandError(FtevalsError):
    """The token command could not give a token (the message never holds its output)."""


class TokenCommand:
    """A bearer token printed by a command, cached for ``ttl`` seconds; thread-safe.

    Calling it returns the token (the ``azure_ad_token_provider`` protocol), running the
    command when there is none yet, it is ``ttl`` seconds old, or it was invalidated.
    One thread runs the command while the others wait for its token.

    Args:
        command: a command line, split with :func:`shlex.split` and run without a shell.
        ttl: seconds a token is used before the command is run again (0: every call).
        timeout: seconds the command may take.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        command: str,
        *,
        ttl: float = DEFAULT_TOKEN_TTL_S,
        timeout: float = DEFAULT_TOKEN_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        try:
            self.argv = shlex.split(command)
        except ValueError as exc:
            raise FtevalsError(f"token_command is not a valid command line ({exc})") from None
        if not self.argv:
            raise FtevalsError("token_command is empty")
        if ttl < 0:
            raise FtevalsError(f"token_ttl must be at least 0, got {ttl:g}")
        if timeout <= 0:
            raise FtevalsError(f"token_timeout must be more than 0, got {timeout:g}")
        self.program = self.argv[0]
        self.ttl = ttl
        self.timeout = timeout
        self.runs = 0  # times the command ran
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Secret | None = None
        self._fetched_at = 0.0
        # tokens handed out so far (masked in error reasons, e.g. a 401 that quotes an old one)
        self._issued: deque[Secret] = deque(maxlen=32)
        # the token last handed to each thread: the client calls this provider in the thread
        # that sends the request, and newer openai clients keep no Authorization header on a
        # refused request, so this is how a 401 names the token it refused
        self._handed = threading.local()

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or self._clock() - self._fetched_at >= self.ttl:
                started = self._clock()
                self._token = self._run()
                self._fetched_at = started
            value = self._token.reveal()
        self._handed.value = value
        return value

    def last_handed(self) -> str | None:
        """The token this thread was last given (None before the first)."""
        value = getattr(self._handed, "value", None)
        return value if isinstance(value, str) else None

    def invalidate(self, used: str | None = None) -> bool:
        """Drop the cached token (only if it is ``used``, when given): the next call fetches
        a new one. Several requests refused with the same token so cause one new token."""
        with self._lock:
            if self._token is None or (used is not None and used != self._token.reveal()):
                return False
            self._token = None
            return True

    def redact(self, text: str) -> str:
        """``text`` with every token handed out so far masked."""
        for token in tuple(self._issued):
            text = token.redact(text)
        return text

    def _run(self) -> Secret:
        name = f"token command `{self.program}`"
        self.runs += 1
        try:
            done = subprocess.run(
                self.argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError:
            raise TokenCommandError(
                f"{name} not found: install it (for the default, Azure CLI) or set "
                f"token_command= or ${TOKEN_COMMAND_ENV}"
            ) from None
        except subprocess.TimeoutExpired:
            raise TokenCommandError(
                f"{name} timed out after {self.timeout:g}s (token_timeout=)"
            ) from None
        except OSError as exc:
            raise TokenCommandError(f"{name} could not start ({type(exc).__name__})") from None
        if done.returncode != 0:
            raise TokenCommandError(
                f"{name} failed with exit status {done.returncode} (its output is not shown; "
                "run it yourself to see why, e.g. after `az login`)"
            )
        token = done.stdout.decode("utf-8", "replace").strip()
        if not token:
            raise TokenCommandError(f"{name} printed no token")
        if any(ch.isspace() for ch in token):
            raise TokenCommandError(f"{name} printed more than one token (one word expected)")
        logger.debug("azure: got a new token from %s", name)
        secret = Secret("token", token, name)
        self._issued.append(secret)
        return secret


def entra_token_provider() -> Callable[[], str]:
    """``azure-identity``'s refreshing token provider for Azure OpenAI (imported lazily)."""
    try:
        identity = importlib.import_module("azure.identity")
    except ImportError:
        raise FtevalsError(
            "auth=entra needs the azure-identity package, which ftevals does not install: "
            "pip install azure-identity (or use auth=token_command, which runs "
            "`az account get-access-token`)"
        ) from None
    provider: Callable[[], str] = identity.get_bearer_token_provider(
        identity.DefaultAzureCredential(), ENTRA_SCOPE
    )
    return provider


def _credential(
    auth: str, key_env: str, token_env: str, command: str | None
) -> tuple[Secret | None, str]:
    """The static secret (key or fixed token) and the auth mode in use."""
    if auth not in AUTH_MODES:
        raise FtevalsError(f"auth must be one of {', '.join(AUTH_MODES)}, got {auth!r}")
    if auth in ("token_command", "entra"):
        return None, auth
    key = lookup(key_env) if auth in ("auto", "key") else None
    if key is not None:
        return key, "key"
    token = lookup(token_env) if auth in ("auto", "token") else None
    if token is not None:
        return token, "token"
    if auth == "auto" and command:
        return None, "token_command"
    wanted = {"auto": f"${key_env} or ${token_env}", "key": f"${key_env}", "token": f"${token_env}"}
    refreshing = " (or a refreshing token: auth=token_command or auth=entra)"
    raise FtevalsError(
        f"azure needs credentials in {wanted[auth]}: set them in the environment or in .env "
        f"in the working directory (never on the command line){refreshing}"
    )


def _status(exc: BaseException) -> Any:
    status = getattr(exc, "status_code", None)
    return (
        status
        if status is not None
        else getattr(getattr(exc, "response", None), "status_code", None)
    )


def _bearer(exc: BaseException) -> str | None:
    """The token a refused request carried (from its ``Authorization`` header)."""
    headers = getattr(getattr(exc, "request", None), "headers", None)
    try:
        value = headers.get("authorization") if headers is not None else None
    except (AttributeError, TypeError):
        return None
    if isinstance(value, str) and value.startswith("Bearer "):
        return value[len("Bearer ") :]
    return None


class AzureCompletionFn(ChatAPICompletionFn):
    """Chat completions from an Azure OpenAI deployment.

    Args:
        deployment: the deployment name (sent as the model; the client puts it in the URL).
        endpoint, api_version, auth, api_key_env, token_env: see the module docstring.
        token_command: the command that prints a token (``auth=token_command``).
        token_ttl: seconds a command's token is used before it is run again (2700).
        token_timeout: seconds the command may take (60).
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
        token_command: str | None = None,
        token_ttl: float | str | None = None,
        token_timeout: float | str | None = None,
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
        command = token_command or setting(TOKEN_COMMAND_ENV)
        if token_command and auth not in ("auto", "token_command"):
            raise FtevalsError(f"token_command= is used with auth=token_command, not auth={auth}")
        secret, self.auth = _credential(auth, api_key_env, token_env, command)
        self.token_command: TokenCommand | None = None
        self.token_provider: Callable[[], str] | None = None
        if self.auth == "token_command":
            self.token_command = TokenCommand(
                command or DEFAULT_TOKEN_COMMAND,
                ttl=DEFAULT_TOKEN_TTL_S if token_ttl is None else float_arg(token_ttl, "token_ttl"),
                timeout=DEFAULT_TOKEN_TIMEOUT_S
                if token_timeout is None
                else float_arg(token_timeout, "token_timeout"),
            )
            self.token_command()  # fail now, with one clear error, rather than on every sample
            self.token_provider = self.token_command
        elif self.auth == "entra":
            self.token_provider = entra_token_provider()
        super().__init__(deployment, api_key=secret, **_own(kwargs, f"azure/{deployment}"))

    def make_client(self) -> Any:
        import openai

        assert self.endpoint is not None
        value = self.secret.reveal() if self.secret is not None else None
        return openai.AzureOpenAI(
            azure_endpoint=self.endpoint,
            api_version=self.api_version,
            api_key=value if self.auth == "key" else None,
            azure_ad_token=value if self.auth == "token" else None,
            azure_ad_token_provider=self.token_provider,
            timeout=self.timeout,
            max_retries=0,
        )

    def redact(self, text: str) -> str:
        text = super().redact(text)
        return self.token_command.redact(text) if self.token_command is not None else text

    def _create(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        try:
            return super()._create(messages, params)
        except Exception as exc:
            if self.token_command is None or _status(exc) != 401:
                raise
            # The token may have been revoked or expired early: one new token, one retry
            # (a second 401 is the call's answer). Outside this block, so that no error
            # chains to the first one.
            used = _bearer(exc) or self.token_command.last_handed()
        if self.token_command.invalidate(used):
            logger.info(
                "azure/%s: HTTP 401 with the cached token; running %s again",
                self.model,
                self.token_command.program,
            )
        return super()._create(messages, params)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(deployment={self.model!r}, endpoint={self.endpoint!r}, "
            f"api_version={self.api_version!r}, auth={self.auth!r})"
        )
