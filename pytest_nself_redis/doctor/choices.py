"""What a doctor run can be asked for, and how its options are spelled.

Light on purpose: the CLI declares ``nself-redis doctor``'s parser (and answers
``--help``) from these without loading the checks.
"""

# In report order. queue.bullmq (a Node round trip) is not safe, so it is left to the suites.
DOCTOR_SUITES = (
    "health",
    "config",
    "auth",
    "monitoring",
    "queue",
    "backup",
    "sentinel",
    "latency",
    "operations",
)
# How doctor spells the options messages name.
URL_FLAG = "--redis-url"
SENTINEL_URL_FLAG = "--sentinel-url"
CA_FLAG = "--redis-ca"
# Doctor's output formats (--format); --json and --nagios are aliases of two of them.
FORMATS = ("human", "json", "nagios", "github", "prometheus", "health-json")
# `nself-redis serve`: where it listens by default, and how long an answer is reused.
SERVE_BIND = "127.0.0.1"
SERVE_PORT = 9479
SERVE_CACHE = "5"
