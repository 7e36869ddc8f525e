"""Completion functions: every model behind evals' CompletionFn protocol.

One module per provider; heavy SDKs (torch, transformers, openai) are imported lazily
inside the module that needs them, so ``import ftevals.completion_fns.x`` stays cheap.
"""
