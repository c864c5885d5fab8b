"""pytest-nself-redis: conformance and health harness for the Redis of an nself project."""

__version__ = "0.1.0"
