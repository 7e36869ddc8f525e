"""LoRA training (sequence classifiers and causal LMs) and adapter fusion."""
