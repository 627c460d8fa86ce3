"""Turns municipal files as they are into typed, versioned tables."""
