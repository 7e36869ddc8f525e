"""``ftevals serve``: an OpenAI-compatible HTTP server for local models and adapters."""
