import sys

from pytest_nself_redis.cli.main import main

sys.exit(main())
