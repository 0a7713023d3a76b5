"""Settings for the bench's server processes: the app's own (config.settings), with a safety net.

With redis-py 8 a Redis connection's read timeout defaults to 5 s, the same 5 s channels_redis blocks in
BZPOPMIN for a consumer's next message: the read gives up first, the consumer dies and its WebSocket
closes with 1011 after 5 s without a channel-layer message. The app now sets a longer ``socket_timeout``;
should its hosts ever be plain URLs again, this module gives them one, so that the other figures still
measure something, while the ``redis: app settings keep an idle WebSocket open`` row (bench/fanout.py,
run on config.settings itself) reports the regression. BENCH_APP_SETTINGS=1 runs every server on
config.settings unchanged; BENCH_REDIS_LAYER=pubsub tries channels_redis' pub/sub layer instead.
"""
import os

from config.settings import *  # noqa: F403
from config.settings import CHANNEL_LAYERS, REDIS_URL

REDIS_READ_TIMEOUT = 10

if REDIS_URL:
    _config = CHANNEL_LAYERS["default"].setdefault("CONFIG", {})
    _config["hosts"] = [{"address": h, "socket_timeout": REDIS_READ_TIMEOUT} if isinstance(h, str) else h
                        for h in _config.get("hosts", [])]

if REDIS_URL and os.environ.get("BENCH_REDIS_LAYER") == "pubsub":  # to try the fan-out fix the report suggests
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                                  "CONFIG": {"hosts": _config["hosts"]}}}
del os
