"""The ground floor: errors, atomic writes, array files, paths, numerics and TF's quiet start-up.

Everything else (spec, data, the twins, parity, the CLI) imports from here; this package
imports nothing of twinport's.
"""
