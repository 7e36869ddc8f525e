"""Eval classes of ftevals, used from registry YAML as ``ftevals.elsuite.<module>:<Class>``."""
