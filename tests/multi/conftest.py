from tests.support.redis import redis_server_url

__all__ = ["redis_server_url"]
