"""ftevals: evaluate, train and compare LLMs fine-tuned for safety on the OpenAI evals engine."""

__version__ = "0.1.0"
