"""What only the tests use: fakes, builders and the native models to compare the service with."""
