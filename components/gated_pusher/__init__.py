"""GatedPusher: atomic, idempotent push to a TF Serving folder behind a latency gate.

spec.py (keys), component.py, executor.py; push.py and latency.py are its helpers.
"""
