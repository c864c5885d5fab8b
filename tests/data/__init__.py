"""Self-tests of the pubsub, datastructures (+ sessions), monitoring and queue suites."""
