"""`make bench-widget`: the chat widget's rendering cost in real Chromium.

1. A 20 kB markdown answer streamed at 100 tokens/s by a real ChatStreamView under uvicorn into
   the widget, with a PerformanceObserver counting long tasks (over 50 ms).
2. The render cost of one token (markdown parse, DOM append and the layout the auto-scroll
   reads) when the answer already holds about 1 kB, and when it holds about 20 kB.

    python -m benchmarks.widget [--seconds-per-kb N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.chromium import launch  # noqa: E402
from tests.support.servers import uvicorn_server  # noqa: E402
from tests.testapp.chat import Prompt  # noqa: E402

SECTION = (
    "## Section {n}\n\nSome *emphasis*, **strong text**, `inline code` and a "
    "[link](https://example.com/{n}).\n\n- item one\n- item two\n\n"
    "```python\ndef f{n}(x):\n    return x * {n}\n```\n\n"
)


def markdown_of(size: int) -> str:
    text = ""
    n = 0
    while len(text) < size:
        text += SECTION.format(n=n)
        n += 1
    return text[:size]


COST_SCRIPT = """async ([small, large]) => {
  const { markdownRenderer } = await import('/static/django_streaming/markdown.js');
  const tokens = (text) => text.match(/.{1,4}/gs);
  async function perToken(prefix, measured, layout) {
    const host = document.createElement('div');
    host.className = 'ds-chat';
    document.body.append(host);
    const r = markdownRenderer(host);
    r.write(prefix);
    host.offsetHeight;
    const pieces = tokens(measured);
    const start = performance.now();
    for (const piece of pieces) { r.write(piece); if (layout) host.offsetHeight; }
    const spent = performance.now() - start;
    r.end(); host.remove();
    return spent / pieces.length;
  }
  const sample = large.slice(0, 1000);
  return {
    at1kB: await perToken(small, sample, false),
    at20kB: await perToken(large, sample, false),
    layoutAt1kB: await perToken(small, sample, true),
    layoutAt20kB: await perToken(large, sample, true),
  };
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=20_000, help="answer size in bytes")
    parser.add_argument("--rate", type=float, default=100.0, help="tokens per second")
    arguments = parser.parse_args()
    answer = markdown_of(arguments.size)
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "answer.md").write_text(answer)
        os.environ["BENCH_ANSWER"] = str(Path(folder, "answer.md"))
        os.environ["BENCH_RATE"] = str(arguments.rate)
        app = ASGIStaticFilesHandler(get_asgi_application())
        with uvicorn_server(app=app) as server, sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_page(base_url=server.url)
            page.goto("/chat-page/?endpoint=/chat-exempt/")
            page.evaluate(
                """() => { window.__long = [];
                new PerformanceObserver((list) => window.__long.push(
                    ...list.getEntries().map((e) => e.duration))
                ).observe({ type: 'longtask', buffered: true }); }"""
            )
            page.fill(".ds-chat__input", Prompt.BENCH)
            page.press(".ds-chat__input", "Enter")
            page.wait_for_function(
                "document.querySelector('.ds-chat__log').getAttribute('aria-busy') === 'false'"
                " && document.querySelector('.ds-chat__message--assistant')",
                timeout=0,
            )
            long_tasks = page.evaluate("window.__long")
            rendered = page.locator(".ds-chat__message--assistant").inner_text()
            costs = page.evaluate(COST_SCRIPT, [markdown_of(1000), markdown_of(20_000)])
            browser.close()
    tokens = len(answer) / 4
    print(
        f"streamed {len(answer):,} bytes of markdown, ~{tokens:,.0f} tokens at {arguments.rate:g}/s"
    )
    print(f"rendered text: {len(rendered):,} characters")
    print(f"long tasks (> 50 ms) while streaming: {len(long_tasks)}", end="")
    print(f", longest {max(long_tasks):.0f} ms" if long_tasks else "")
    print(
        f"render cost per token (parse and DOM): {costs['at1kB'] * 1000:.1f} µs at 1 kB, "
        f"{costs['at20kB'] * 1000:.1f} µs at 20 kB ({costs['at20kB'] / costs['at1kB']:.2f}x)"
    )
    print(
        "with a forced layout after every token (the worst case; the widget lays out once "
        f"per frame): {costs['layoutAt1kB'] * 1000:.1f} µs at 1 kB, "
        f"{costs['layoutAt20kB'] * 1000:.1f} µs at 20 kB "
        f"({costs['layoutAt20kB'] / costs['layoutAt1kB']:.2f}x)"
    )


if __name__ == "__main__":
    main()
