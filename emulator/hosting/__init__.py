"""Endpoints' model servers: fleets, backends, routing, supervision, logs, capture flushes."""
