"""Calling the service: sample events, a fake Lambda context, and sam local start-api driven from Python; used by
the tests and by the measuring tools alike."""
