"""The test settings with the operating tests' URLs, for servers started in a subprocess."""

from tests.settings import *  # noqa: F403

ROOT_URLCONF = "tests.operating.app"
