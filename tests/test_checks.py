from __future__ import annotations

from typing import Any, ClassVar

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from django_streaming.conf import DEFAULTS, get_config


def check_ids() -> list[str]:
    return [message.id for message in run_checks() if message.id and "streaming" in message.id]


def test_valid_settings_pass() -> None:
    assert check_ids() == []


@override_settings(DJANGO_STREAMING=["HEARTBEAT_INTERVAL"])
def test_e001_not_a_dict() -> None:
    assert check_ids() == ["django_streaming.E001"]


@pytest.mark.parametrize("value", [0, -1, "15", True])
def test_e002_heartbeat(value: Any) -> None:
    with override_settings(DJANGO_STREAMING={"HEARTBEAT_INTERVAL": value}):
        assert check_ids() == ["django_streaming.E002"]


@pytest.mark.parametrize("value", [-1, 2.5, "1000", False])
def test_e003_retry(value: Any) -> None:
    with override_settings(DJANGO_STREAMING={"RETRY": value}):
        assert check_ids() == ["django_streaming.E003"]


@override_settings(DJANGO_STREAMING={"HEARTBEAT": 5})
def test_w001_unknown_key() -> None:
    messages = [message for message in run_checks() if message.id == "django_streaming.W001"]
    assert len(messages) == 1
    assert "'HEARTBEAT'" in messages[0].msg


@override_settings(DJANGO_STREAMING={"MAX_FINISHED_STREAMS": 1})
def test_e016_one_finished_stream_is_enough() -> None:
    assert check_ids() == []


@override_settings(DJANGO_STREAMING={"HEARTBEAT_INTERVAL": None, "RETRY": 0})
def test_none_and_zero_are_valid() -> None:
    assert check_ids() == []


def test_config_follows_the_setting() -> None:
    with override_settings(DJANGO_STREAMING={"RETRY": 10}):
        assert get_config()["RETRY"] == 10
    assert get_config()["RETRY"] == DEFAULTS["RETRY"]


@override_settings(DJANGO_STREAMING="broken")
def test_config_ignores_a_setting_that_is_not_a_dict() -> None:
    assert get_config() == DEFAULTS


@pytest.mark.parametrize(
    ("key", "check_id"),
    [("MAX_BODY_BYTES", "E004"), ("MAX_MESSAGES", "E005"), ("MAX_FINISHED_STREAMS", "E016")],
)
@pytest.mark.parametrize("value", [0, -5, 1.5, "10", None])
def test_limits_must_be_positive_ints(key: str, check_id: str, value: Any) -> None:
    with override_settings(DJANGO_STREAMING={key: value}):
        assert check_ids() == [f"django_streaming.{check_id}"]


@pytest.mark.parametrize(
    ("key", "check_id"), [("MAX_MESSAGE_CHARS", "E006"), ("MAX_FILE_BYTES", "E014")]
)
@pytest.mark.parametrize("value", [0, -5, 1.5, "10"])
def test_limits_that_may_be_none_must_be_positive_ints(key: str, check_id: str, value: Any) -> None:
    with override_settings(DJANGO_STREAMING={key: value}):
        assert check_ids() == [f"django_streaming.{check_id}"]
    with override_settings(DJANGO_STREAMING={key: None}):
        assert check_ids() == []


@pytest.mark.parametrize("value", [0, -5, "600", None])
def test_e007_max_duration(value: Any) -> None:
    with override_settings(DJANGO_STREAMING={"MAX_DURATION": value}):
        assert check_ids() == ["django_streaming.E007"]


@pytest.mark.parametrize(
    ("store", "complaint"),
    [
        ("redis", "must be a dict with a 'BACKEND'"),
        ({"OPTIONS": {}}, "must be a dict with a 'BACKEND'"),
        ({"BACKEND": "django_streaming.stores.memory.MemoryStore", "OPTIONS": []}, "OPTIONS"),
        ({"BACKEND": "no.such.Store"}, "cannot be imported"),
        ({"BACKEND": "django_streaming.sse.Event"}, "is not a StreamStore"),
    ],
)
def test_e008_store(store: Any, complaint: str) -> None:
    with override_settings(DJANGO_STREAMING={"STORE": store}):
        messages = [m for m in run_checks() if m.id == "django_streaming.E008"]
    assert len(messages) == 1
    assert complaint in messages[0].msg


@pytest.mark.parametrize(
    "path",
    ["django_streaming.backends.redis.RedisStore", "django_streaming.stores.redis.RedisStore"],
)
def test_e008_names_the_redis_extra(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    modules = __import__("sys").modules
    for name in {"redis", *(name for name in modules if name.startswith("redis."))}:
        monkeypatch.setitem(modules, name, None)  # as if not installed
    ours = ("django_streaming.backends.redis", "django_streaming.stores.redis")
    for name in [name for name in modules if name.startswith(ours)]:
        monkeypatch.delitem(modules, name)
    store = {"BACKEND": path}
    with override_settings(DJANGO_STREAMING={"STORE": store}):
        [message] = [m for m in run_checks() if m.id == "django_streaming.E008"]
    assert "django-streaming[redis]" in message.msg


@pytest.mark.parametrize(
    ("key", "value", "check_id"),
    [
        ("MAX_ACTIVE_PER_OWNER", 0, "E009"),
        ("MAX_ACTIVE_PER_OWNER", 2.5, "E009"),
        ("MAX_ACTIVE_PER_OWNER", "10", "E009"),
        ("SEND_TIMEOUT", 0, "E010"),
        ("SEND_TIMEOUT", "30", "E010"),
        ("SHUTDOWN_RETRY", -1, "E011"),
        ("SHUTDOWN_RETRY", (5000, 1000), "E011"),
        ("SHUTDOWN_RETRY", (1000,), "E011"),
        ("SHUTDOWN_RETRY", (1000.0, 2000), "E011"),
        ("SHUTDOWN_RETRY", "1000", "E011"),
        ("THREADS", 0, "E012"),
        ("THREADS", None, "E012"),
    ],
)
def test_production_settings(key: str, value: Any, check_id: str) -> None:
    with override_settings(DJANGO_STREAMING={key: value}):
        assert check_ids() == [f"django_streaming.{check_id}"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("MAX_ACTIVE_PER_OWNER", None),
        ("SEND_TIMEOUT", None),
        ("SEND_TIMEOUT", 0.5),
        ("SHUTDOWN_RETRY", 0),
        ("SHUTDOWN_RETRY", [2000, 2000]),
    ],
)
def test_production_settings_that_are_valid(key: str, value: Any) -> None:
    with override_settings(DJANGO_STREAMING={key: value}):
        assert check_ids() == []


@pytest.mark.parametrize(
    ("channels", "complaint"),
    [
        ([1000], "must be a dict"),
        ({"MAXLEN": 5}, "unknown keys: 'MAXLEN'"),
        ({"MAX_LEN": 0}, "'MAX_LEN'] must be a positive int"),
        ({"MAX_LEN": 2.5}, "'MAX_LEN'] must be a positive int"),
        ({"TTL": -1}, "'TTL'] must be a positive number"),
        ({"TTL": True}, "'TTL'] must be a positive number"),
    ],
)
def test_e013_channels(channels: Any, complaint: str) -> None:
    with override_settings(DJANGO_STREAMING={"CHANNELS": channels}):
        [message] = [m for m in run_checks() if m.id == "django_streaming.E013"]
    assert complaint in message.msg


def test_channels_merge_key_by_key_with_the_defaults() -> None:
    with override_settings(DJANGO_STREAMING={"CHANNELS": {"TTL": 60}}):
        assert check_ids() == []
        assert get_config()["CHANNELS"] == {"MAX_LEN": 1000, "TTL": 60}


@pytest.mark.parametrize("value", ["X-Real-IP", "REMOTE_ADDR", 5, ["HTTP_X_REAL_IP"]])
def test_e020_client_address_header(value: Any) -> None:
    with override_settings(DJANGO_STREAMING={"CLIENT_ADDRESS_HEADER": value}):
        assert check_ids() == ["django_streaming.E020"]
    for fine in (None, "HTTP_X_REAL_IP"):
        with override_settings(DJANGO_STREAMING={"CLIENT_ADDRESS_HEADER": fine}):
            assert check_ids() == []


def test_e021_an_agent_no_adapter_serves() -> None:
    from django_streaming import ChatStreamView

    class Gadget:
        pass

    class Confused(ChatStreamView):
        agent: ClassVar[Any] = Gadget()

    try:
        [message] = [m for m in run_checks() if m.id == "django_streaming.E021"]
        assert "Confused.agent is a tests.test_checks" in message.msg
        assert "pydantic_ai.Agent" in (message.hint or "")
        assert message.obj is Confused
    finally:
        Confused.agent = None  # the class lives on: later checks must not see it


@pytest.mark.parametrize(
    "value",
    [
        "cdn.example.com",  # a bare string, not a list of names
        ["https://cdn.example.com/"],
        ["cdn.example.com/images"],
        ["cdn example.com"],
        [""],
        [None],
        {"cdn.example.com": True},
    ],
)
def test_e015_image_hosts(value: Any) -> None:
    with override_settings(DJANGO_STREAMING={"IMAGE_HOSTS": value}):
        [message] = [m for m in run_checks() if m.id == "django_streaming.E015"]
    assert "IMAGE_HOSTS" in message.msg
    assert "host names such as ['cdn.example.com']" in message.msg


@pytest.mark.parametrize("value", [[], ("cdn.example.com", "IMG.example.org:8443")])
def test_image_hosts_that_are_valid(value: Any) -> None:
    with override_settings(DJANGO_STREAMING={"IMAGE_HOSTS": value}):
        assert check_ids() == []


REDIS = "django_streaming.backends.redis.RedisStore"


@pytest.fixture
def redis_py_8_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """As with redis-py 8.2 (the matrix's Python 3.10 has 8.1): the checks below are of the
    options, whatever the release."""
    from django_streaming.backends.redis import clients

    monkeypatch.setattr(clients, "REDIS_PY", (8, 2))


def test_e022_a_cluster_with_redis_py_before_8_2(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_streaming.backends.redis import clients

    monkeypatch.setattr(clients, "REDIS_PY", (8, 1))
    options = {"url": "redis+cluster://127.0.0.1:7000"}
    with override_settings(DJANGO_STREAMING={"STORE": {"BACKEND": REDIS, "OPTIONS": options}}):
        [message] = [m for m in run_checks() if m.id == "django_streaming.E022"]
    assert "A cluster needs redis-py 8.2 or later" in message.msg


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"url": "redis+sentinel://s1:26379/mymaster"}, "'sentinels': [('sentinel-1', 26379)"),
        ({"url": "http://127.0.0.1:6379"}, "redis+cluster://"),
        ({"url": 6379}, "must be a str"),
        ({"url": "redis+cluster://127.0.0.1:7000/3"}, "database 0 only"),
        ({"url": "redis://127.0.0.1:7000/2", "cluster": True}, "database 0 only"),
        ({"sentinels": [("127.0.0.1", 26379)]}, "both 'sentinels'"),
        ({"service_name": "mymaster"}, "both 'sentinels'"),
        ({"sentinels": ["127.0.0.1:26379"], "service_name": "m"}, "(host, port) pairs"),
        ({"sentinels": [("h", 26379)], "service_name": ""}, "non-empty str"),
        ({"sentinels": [("h", 26379)], "service_name": "m", "cluster": True}, "cluster or"),
        ({"client_kwargs": "ssl=True"}, "'client_kwargs' must be a dict"),
        ({"client_factory": "no.such.factory"}, "cannot be imported"),
        ({"client_factory": "django_streaming.conf.DEFAULTS"}, "dotted path of a callable"),
        ({"client_factory": 42}, "dotted path of a callable"),
        ({"cluster": True, "prefix": "{app}"}, "one slot"),
    ],
)
@pytest.mark.usefixtures("redis_py_8_2")
def test_e022_redis_options_that_cannot_work(options: dict[str, Any], complaint: str) -> None:
    with override_settings(DJANGO_STREAMING={"STORE": {"BACKEND": REDIS, "OPTIONS": options}}):
        messages = [m for m in run_checks() if m.id == "django_streaming.E022"]
    assert len(messages) == 1, messages
    assert complaint in messages[0].msg


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"url": "rediss+cluster://127.0.0.1:7000"},
        {"url": "redis://127.0.0.1:7000/0", "cluster": True, "prefix": "app"},
        {"sentinels": [("127.0.0.1", 26379)], "service_name": "m", "url": "redis://:pw@/1"},
        {"client_factory": "django_streaming.backends.redis.clients.default_client"},
        {"prefix": "{app}"},  # braces matter in a cluster only
    ],
)
@pytest.mark.usefixtures("redis_py_8_2")
def test_e022_redis_options_that_work_pass(options: dict[str, Any]) -> None:
    with override_settings(DJANGO_STREAMING={"STORE": {"BACKEND": REDIS, "OPTIONS": options}}):
        assert [m for m in run_checks() if m.id == "django_streaming.E022"] == []


def test_e022_a_redis_store_refuses_such_options_when_built() -> None:
    from django.core.exceptions import ImproperlyConfigured

    from django_streaming.backends.redis import RedisStore

    with pytest.raises(ImproperlyConfigured, match="Sentinel is not configured by URL"):
        RedisStore(url="redis+sentinel://s1:26379/mymaster")
