"""ftevals: evaluate, train and compare LLMs fine-tuned for safety on the OpenAI evals engine."""

from ftevals.evals_compat import ensure_importable as _ensure_importable

__version__ = "0.1.0"

# evals' registry module builds an OpenAI client at import time and fails without a key:
# let its first import (by anything, later) run with a placeholder key, changing no
# environment variable and importing nothing now. See evals_compat.
_ensure_importable()
