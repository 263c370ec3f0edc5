"""`make bench-widget`: the chat widget's rendering cost in real Chromium.

1. A 20 kB markdown answer streamed at 100 tokens/s by a real ChatStreamView under uvicorn into
   the widget, with a PerformanceObserver counting long tasks (over 50 ms).
2. The render cost of one token (markdown parse, DOM append and the layout the auto-scroll
   reads) when the answer already holds about 1 kB, and when it holds about 20 kB.
3. Code and math: a 20 kB answer with ten fenced code blocks (ten languages) and formulas,
   streamed the same way, with syntax highlighting on and then off: the longest long task, and
   the page's script, layout (with style) and total main-thread time (Chromium's
   ScriptDuration, LayoutDuration + RecalcStyleDuration and TaskDuration metrics) of each.

    python -m benchmarks.widget [--size BYTES] [--rate TOKENS_PER_SECOND] [--no-code]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "example_project"))  # tests.settings reads its database_url
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tests.browser.chromium import launch  # noqa: E402
from tests.support.servers import uvicorn_server  # noqa: E402
from tests.testapp.chat import Prompt  # noqa: E402

ASSISTANT = ".ds-chat__message--assistant"
SECTION = (
    "## Section {n}\n\nSome *emphasis*, **strong text**, `inline code` and a "
    "[link](https://example.com/{n}).\n\n- item one\n- item two\n\n"
    "```python\ndef f{n}(x):\n    return x * {n}\n```\n\n"
)


SNIPPETS = {
    "python": "def step_{i}(values):\n    total = sum(v * {i} for v in values)  # scaled\n"
    "    return {{'step': {i}, 'total': total}}\n",
    "javascript": "function step{i}(values) {{\n"
    "  const total = values.reduce((a, b) => a + b * {i}, 0);\n"
    "  return {{ step: {i}, total }};\n}}\n",
    "typescript": "export function step{i}(values: number[]): number {{\n"
    "  return values.map((v) => v * {i}).length; // count\n}}\n",
    "bash": 'for file in "$DIR"/*.log; do\n  grep -c "step {i}" "$file"'
    ' || echo "none in $file"\ndone\n',
    "sql": "SELECT step, SUM(value * {i}) AS total\nFROM runs WHERE step > {i}\nGROUP BY step;\n",
    "json": '{{"step": {i}, "values": [1, 2, 3], "enabled": true, "name": "step-{i}"}}\n',
    "go": "func step{i}(values []int) int {{\n\ttotal := 0\n\tfor _, v := range values {{\n"
    "\t\ttotal += v * {i}\n\t}}\n\treturn total\n}}\n",
    "rust": "fn step_{i}(values: &[i64]) -> i64 {{\n    values.iter().map(|v| v * {i}).sum()\n}}\n",
    "html": '<section class="step-{i}">\n  <h2>Step {i}</h2>\n  <p data-step="{i}">Done</p>\n'
    "</section>\n",
    "css": ".step-{i} {{\n  margin: {i}px;\n  color: #336699; /* step */\n}}\n",
}
PROSE = (
    "Step {n} costs $O(n \\log n)$ and adds \\(\\sum_{{i=1}}^{{{n}}} i^2\\), about $5 a run "
    "and $10 a day:\n\n$$\\int_0^{{{n}}} x^2\\,dx = \\frac{{{n}^3}}{{3}}$$\n\n"
)


def code_answer(size: int) -> str:
    """About `size` bytes: ten code blocks, one per language, with formulas and prose between."""
    per_block = size // len(SNIPPETS)
    text = ""
    for n, (language, snippet) in enumerate(SNIPPETS.items()):
        block = PROSE.format(n=n) + f"```{language}\n"
        i = 0
        while len(block) < per_block - 8:
            block += snippet.format(i=i)
            i += 1
        text += block + "```\n\n"
    return text


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


METRICS = ("ScriptDuration", "LayoutDuration", "RecalcStyleDuration", "TaskDuration")


def stream(page: Page, path: str) -> tuple[list[float], dict[str, float], str]:
    """Send the bench prompt at `path`; return the long tasks (ms), the main thread's time
    (s, by Chromium metric) and the answer's text once it is complete."""
    page.goto(path)
    page.wait_for_function("document.querySelector('[data-ds-chat]').dsChat !== undefined")
    page.evaluate(
        """() => { window.__long = [];
        new PerformanceObserver((list) => window.__long.push(
            ...list.getEntries().map((e) => e.duration))
        ).observe({ type: 'longtask', buffered: true }); }"""
    )
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")

    def seconds() -> dict[str, float]:
        metrics = cdp.send("Performance.getMetrics")["metrics"]
        return {m["name"]: float(m["value"]) for m in metrics if m["name"] in METRICS}

    before = seconds()
    page.fill(".ds-chat__input", Prompt.BENCH)
    page.press(".ds-chat__input", "Enter")
    page.wait_for_function(
        "document.querySelector('.ds-chat__log').getAttribute('aria-busy') === 'false'"
        " && document.querySelector('.ds-chat__message--assistant')",
        timeout=0,
    )
    after = seconds()
    spent = {name: after[name] - before[name] for name in METRICS}
    cdp.detach()
    return page.evaluate("window.__long"), spent, page.locator(ASSISTANT).inner_text()


def longest(tasks: list[float]) -> str:
    return f"{len(tasks)} long tasks, longest {max(tasks):.0f} ms" if tasks else "no long task"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=20_000, help="answer size in bytes")
    parser.add_argument("--rate", type=float, default=100.0, help="tokens per second")
    parser.add_argument("--no-code", action="store_true", help="skip the code and math row")
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
            long_tasks, _, rendered = stream(page, "/chat-page/?endpoint=/chat-exempt/")
            costs = page.evaluate(COST_SCRIPT, [markdown_of(1000), markdown_of(20_000)])
            code_rows = []
            if not arguments.no_code:
                code = code_answer(arguments.size)
                Path(folder, "answer.md").write_text(code)
                for label, query in [("on", ""), ("off", "&highlight=off")]:
                    page = browser.new_page(base_url=server.url)  # nothing loaded yet
                    path = f"/chat-page/?endpoint=/chat-exempt/{query}"
                    tasks, spent, _ = stream(page, path)
                    highlighted = page.locator(f"{ASSISTANT} pre code .hljs-keyword").count()
                    formulas = page.locator(f"{ASSISTANT} .katex").count()
                    code_rows.append((label, tasks, spent, highlighted, formulas))
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
    if code_rows:
        print(
            f"\ncode and math: {len(code):,} bytes, ten code blocks and {code.count('$$') // 2}"
            f" display formulas, ~{len(code) / 4:,.0f} tokens at {arguments.rate:g}/s"
        )
        print(
            "| highlighting | long tasks (> 50 ms) | script | layout and style | main thread "
            "| keywords | KaTeX |"
        )
        print("|---|---|---|---|---|---|---|")
        for label, tasks, spent, highlighted, formulas in code_rows:
            layout = spent["LayoutDuration"] + spent["RecalcStyleDuration"]
            print(
                f"| {label} | {longest(tasks)} | {spent['ScriptDuration'] * 1000:,.0f} ms "
                f"| {layout * 1000:,.0f} ms | {spent['TaskDuration'] * 1000:,.0f} ms "
                f"| {highlighted:,} | {formulas} |"
            )


if __name__ == "__main__":
    main()
