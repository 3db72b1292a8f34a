"""GatedPusher: atomic, idempotent push to a TF Serving folder behind a latency gate."""

from components.gated_pusher.component import GatedPusher, GatedPusherSpec

__all__ = ["GatedPusher", "GatedPusherSpec"]
