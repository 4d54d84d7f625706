"""Shared code of the Kyber crystal classifier: validation, models, responses, errors."""
