from pytest_nself_redis.cli.main import run

run()
