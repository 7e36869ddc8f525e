"""Reading OpenAI evals run logs and comparing runs across models."""
