"""Test kit shared by the test suite: small real targets to run backends against."""
