"""AnomaliesGate: stops a run on bad data before Transform and Trainer (spec / component / executor)."""
