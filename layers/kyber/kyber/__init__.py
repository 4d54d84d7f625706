"""Shared code of the Kyber crystal classifier: the core (models, scoring, monitoring) and its two faces, the
droids' API (kyber.droids) and the Open Inference Protocol (kyber.inference_protocol)."""
