"""A real nginx (Debian's package) in front of a test server, on an ephemeral loopback port,
its files in a folder of the test's: ``run_nginx()``, with the ``server`` block each test makes
of a snippet of the deployment docs."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from .servers import RunningServer, listening_socket, wait_until
from .tools import require

CONFIG = """
daemon off;
master_process off;
worker_processes 1;
error_log {folder}/error.log warn;
pid {folder}/nginx.pid;
events {{ worker_connections 512; }}
http {{
    {access_log}
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    upstream django {{ server 127.0.0.1:{upstream}; }}
{server}
}}
"""

#: An access log of each request's connection and protocol (``{folder}/access.log``).
CONNECTIONS_LOG = (
    "log_format connections '$connection $server_protocol $request_uri';\n"
    "    access_log {folder}/access.log connections;"
)


@contextmanager
def run_nginx(
    upstream: RunningServer,
    folder: Path,
    server: Callable[[int], str],
    *,
    scheme: str = "http",
    access_log: str = "access_log off;",
) -> Iterator[str]:
    """nginx proxying to ``upstream`` with the ``server`` block that ``server(port)`` gives
    for its port; its URL while in the block."""
    executable = require("nginx", "/usr/sbin/nginx")
    sock = listening_socket()
    port = sock.getsockname()[1]
    sock.close()
    config = folder / "nginx.conf"
    config.write_text(
        CONFIG.format(
            folder=folder,
            access_log=access_log.format(folder=folder),
            upstream=upstream.url.rsplit(":", 1)[1],
            server=server(port),
        )
    )
    process = subprocess.Popen([executable, "-c", str(config), "-p", str(folder)])
    url = f"{scheme}://127.0.0.1:{port}"

    def started() -> bool:
        try:
            httpx.get(url + "/probe/startup/", verify=False, timeout=1)
        except httpx.TransportError:
            return process.poll() is not None
        return True

    try:
        wait_until(started, what="nginx to start")
        assert process.poll() is None, (folder / "error.log").read_text()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
