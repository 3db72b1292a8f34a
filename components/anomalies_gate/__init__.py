"""AnomaliesGate: stops a run on bad data before Transform and Trainer (see `executor`)."""

from components.anomalies_gate.component import AnomaliesGate

__all__ = ["AnomaliesGate"]
