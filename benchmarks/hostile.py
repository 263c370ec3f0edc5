"""How long hostile chat bodies hold a worker's event loop (issue 20).

The server watches its own event loop (a task sleeping 1 ms at a time notes by how much each
sleep overran) while a client posts bodies meant to be expensive. Side by side: the
library's ChatStreamView (bodies parsed in a thread, a file refused by its encoded length before
decoding) and the same view parsing on the loop, as it did before.

    python -m benchmarks.hostile [--scale 1.0] [--posts 4]
"""

from __future__ import annotations

import argparse
import json

import httpx

from benchmarks.serving import Server, serve

SITE = Server(
    "hostile",
    "benchmarks.apps.hostile_site:app",
    "/stall",
    (("DJANGO_SETTINGS_MODULE", "benchmarks.apps.hostile_site"),),
)
MEGABYTE = 1024 * 1024


def percent_encoded(size: int) -> bytes:
    """A file part of ``size`` bytes of ``%41``: 3 characters a byte, slow to decode."""
    url = "data:," + "%41" * (size // 3)
    part = {"type": "file", "mediaType": "text/plain", "url": url}
    message = {"id": "u", "role": "user", "parts": [{"type": "text", "text": "hi"}, part]}
    return json.dumps({"id": "c", "messages": [message]}).encode()


def json_array(size: int) -> bytes:
    """``size`` bytes of a JSON array of small numbers beside one question."""
    numbers = ",".join(["1"] * (size // 2))
    message = {"id": "u", "role": "user", "parts": [{"type": "text", "text": "hi"}]}
    return (
        b'{"id": "c", "messages": ['
        + json.dumps(message).encode()
        + b'], "x": ['
        + numbers.encode()
        + b"]}"
    )


def worst_stall(port: int, path: str, body: bytes, posts: int) -> tuple[float, list[int]]:
    """The event loop's longest stall (ms) while ``posts`` bodies are posted to ``path``, as
    the server itself measured it, and the statuses the posts got."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        client.get("/stall")  # starts the watch, and forgets what came before
        statuses = []
        for _ in range(posts):
            response = client.post(path, content=body, headers={"content-type": "application/json"})
            statuses.append(response.status_code)
        return float(client.get("/stall").text), statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="body size: 1.0 is ~9-10 MB")
    parser.add_argument("--posts", type=int, default=4)
    options = parser.parse_args()
    size = int(9.5 * MEGABYTE * options.scale)
    bodies = {
        f"a file of {size // 1024:,} KiB of %41": percent_encoded(size),
        f"a JSON array of {size // 1024:,} KiB": json_array(size),
    }
    print(f"### Hostile bodies: the loop's worst stall while {options.posts} are posted\n")
    print("| body | view | worst stall ms | statuses | ratio to before |")
    print("|---|---|---:|---|---:|")
    with serve(SITE) as (port, _):
        for name, body in bodies.items():
            before, before_statuses = worst_stall(port, "/chat-on-the-loop/", body, options.posts)
            now, statuses = worst_stall(port, "/chat/", body, options.posts)
            for view, stall, got, ratio in (
                ("parsing on the loop (before)", before, before_statuses, 1.0),
                ("ChatStreamView", now, statuses, now / before),
            ):
                codes = ", ".join(map(str, sorted(set(got))))
                print(f"| {name} | {view} | {stall:.1f} | {codes} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
