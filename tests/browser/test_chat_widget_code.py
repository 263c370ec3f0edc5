"""Code and math in the widget's answers, in real Chromium: highlight.js and KaTeX, vendored and
loaded only when an answer needs them (markdown.js, code-highlight.js, math.js)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, Request, expect

from tests.testapp.chat import CODE_AND_MATH, Prompt

pytestmark = pytest.mark.browser

ASSISTANT = ".ds-chat__message--assistant"

# Renders `chunks` into a fresh element inside the widget with markdown.js, waiting a frame
# after each chunk when `frames` is set (as a network stream would); window.__host is it.
RENDER = """async ({ chunks, options, frames, end = true }) => {
  const { markdownRenderer } = await import('/static/django_streaming/markdown.js');
  const host = document.createElement('div');
  host.className = 'ds-chat__content';
  document.querySelector('.ds-chat__messages').append(host);
  const renderer = markdownRenderer(host, options);
  window.__host = host;
  window.__renderer = renderer;
  for (const chunk of chunks) {
    renderer.write(chunk);
    if (frames) await new Promise(requestAnimationFrame);
  }
  if (end) renderer.end();
}"""

# highlight.js as the widget loaded it (the same module, so the same registered languages) on
# a whole block, serialised by the browser as the block's inner_html() is.
WHOLE = """async ({ source, language }) => {
  const core = '/static/django_streaming/vendor/highlight.js/es/core.min.js';
  const hljs = (await import(core)).default;
  const template = document.createElement('template');
  template.innerHTML = hljs.highlight(source, { language, ignoreIllegals: true }).value;
  return template.innerHTML;
}"""

# Records the length of every text the widget's highlight.js is asked to highlight.
COUNT_READS = """async () => {
  const hljs = (await import(
      '/static/django_streaming/vendor/highlight.js/es/core.min.js')).default;
  const highlight = hljs.highlight.bind(hljs);
  window.__read = [];
  hljs.highlight = (code, options) => { window.__read.push(code.length);
      return highlight(code, options); };
}"""
READ = "window.__read.reduce((a, b) => a + b, 0)"

PYTHON = (
    'def area(radius: float) -> float:\n    """The area of a circle\n\n    of this radius."""\n'
    "    # pi times r squared\n    return 3.14159 * radius ** 2\n\n\nclass Shape:\n"
    "    sides = {'square': 4, 'triangle': 3}\n"
)


def open_page(page: Page, query: str = "") -> None:
    page.goto(f"/chat-page/?chat=chat-{uuid.uuid4().hex}&{query}")
    page.wait_for_function("document.querySelector('[data-ds-chat]').dsChat !== undefined")


def render(page: Page, chunks: list[str], frames: bool = False, **options: Any) -> None:
    page.evaluate(RENDER, {"chunks": chunks, "options": options, "frames": frames})


def pieces(text: str, size: int) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]


def vendored_requests(page: Page) -> list[str]:
    """Record the vendored modules and stylesheets the page asks for from now on."""
    seen: list[str] = []

    def record(request: Request) -> None:
        if re.search(r"/vendor/(highlight\.js|katex)/|/code\.css", request.url):
            seen.append(request.url.rsplit("/static/django_streaming/", 1)[-1])

    page.on("request", record)
    return seen


# 1. Highlighting


def test_a_streamed_code_block_is_highlighted_and_keeps_its_text(page: Page) -> None:
    open_page(page)
    source = "def f(x):\n    return x + 1  # one more"
    render(page, pieces(f"Look:\n\n```python\n{source}\n```\n\nDone.", 3), frames=True)
    code = page.locator("pre code.language-python")
    expect(code.locator(".hljs-keyword").first).to_have_text("def")
    expect(code).to_have_class(re.compile(r"\bhljs\b"))
    assert code.text_content() == source
    assert code.inner_html() == page.evaluate(WHOLE, {"source": source, "language": "python"})


def test_highlight_js_loads_only_when_a_code_block_appears(page: Page) -> None:
    open_page(page)
    requests = vendored_requests(page)
    render(page, ["Text, `inline code`, a list:\n\n- one\n- two\n\n", "```\nno language\n```\n"])
    render(page, ["```klingon\nunknown language\n```\n"])
    assert requests == [], "nothing to highlight, nothing loaded"
    render(page, ["```js\nconst a = 1;\n```\n"])
    expect(page.locator("pre code.language-js .hljs-keyword")).to_have_text("const")
    assert sorted(requests) == [
        "code.css",
        "vendor/highlight.js/es/core.min.js",
        "vendor/highlight.js/es/languages/javascript.min.js",
    ]
    render(page, ["```ts\nlet b = 2;\n```\n", "```javascript\nlet c = 3;\n```\n"])
    expect(page.locator("pre code.language-ts .hljs-keyword")).to_have_text("let")
    assert requests.count("vendor/highlight.js/es/core.min.js") == 1
    assert requests[-1] == "vendor/highlight.js/es/languages/typescript.min.js"


def test_a_block_highlighted_as_it_streams_ends_as_a_whole_block_highlight(page: Page) -> None:
    open_page(page)
    # Count what highlight.js is asked to read: lines as they complete, never the whole block
    # per token.
    page.evaluate(COUNT_READS)
    chunks = pieces(f"```python\n{PYTHON}", 4)
    page.evaluate(RENDER, {"chunks": chunks, "options": {}, "frames": True, "end": False})
    code = page.locator("pre code.language-python")
    # Highlighted while still open, complete lines only.
    expect(code.locator(".hljs-keyword").first).to_have_text("def")
    # The parser holds a block's last newline until it knows no fence follows.
    assert code.text_content() == PYTHON.removesuffix("\n")
    read_while_streaming = page.evaluate(READ)
    calls_while_streaming = page.evaluate("window.__read.length")
    assert 0 < calls_while_streaming < len(chunks) / 2
    assert read_while_streaming < 2 * len(PYTHON), "re-read the whole block per frame"
    page.evaluate("window.__renderer.end()")
    assert code.text_content() == PYTHON
    assert code.inner_html() == page.evaluate(WHOLE, {"source": PYTHON, "language": "python"})


def test_settled_lines_are_highlighted_once_kept_through_close_and_laid_out_apart(
    page: Page,
) -> None:
    # Each complete line is read once and its spans stay; the line still streaming sits in a
    # box of its own, so a token lays out that box, not the block's hundreds of spans; closing
    # reads the last line only, moves the spans out of their boxes and changes no line.
    open_page(page)
    page.evaluate(COUNT_READS)
    lines = "x = [1, 2]  # a list\n" * 20
    chunks = pieces(f"```python\n{lines}y = partial", 4)
    page.evaluate(RENDER, {"chunks": chunks, "options": {}, "frames": True, "end": False})
    code = page.locator("pre code.language-python")
    expect(code.locator(".hljs-comment")).to_have_count(20)
    assert page.evaluate(READ) == len(lines)
    streaming = code.evaluate(
        """(code) => { window.__first = code.querySelector('.hljs-comment');
        const box = code.lastElementChild;
        return { display: getComputedStyle(box).display, text: box.textContent,
                 line: code.textContent.split('\\n').pop(),
                 spans: box.querySelectorAll('span').length,
                 height: code.parentElement.getBoundingClientRect().height }; }"""
    )
    assert streaming["display"] == "block"
    assert streaming["text"] == streaming["line"]
    assert streaming["line"].startswith("y = part")  # the parser may hold a character back
    assert streaming["spans"] == 0
    page.evaluate("window.__renderer.write(' line\\n```\\n'); window.__renderer.end()")
    source = f"{lines}y = partial line"
    assert code.text_content() == source
    assert page.evaluate(READ) == len(source), "the close re-read settled lines"
    assert code.inner_html() == page.evaluate(WHOLE, {"source": source, "language": "python"})
    assert code.evaluate("(code) => code.querySelector('.hljs-comment') === window.__first")
    assert (
        code.evaluate("(code) => code.parentElement.getBoundingClientRect().height")
        == (streaming["height"])
    )


def test_a_backlog_is_highlighted_in_pieces_over_frames(page: Page) -> None:
    # A block that arrives faster than frames (or before highlight.js loaded) is highlighted a
    # piece of about 2,000 characters at a time, within a budget per frame: never all at once.
    open_page(page)
    page.evaluate(COUNT_READS)
    lines = "total = sum(v * 2 for v in values)  # scaled\n" * 200
    chunks = [f"```python\n{lines}tail"]  # the parser holds a block's last newline
    page.evaluate(RENDER, {"chunks": chunks, "options": {}, "end": False})
    code = page.locator("pre code.language-python")
    expect(code.locator(".hljs-comment")).to_have_count(200)
    reads = page.evaluate("window.__read")
    assert sum(reads) == len(lines)
    assert max(reads) < 2100, reads


def test_a_block_without_a_known_language_stays_plain(page: Page) -> None:
    open_page(page)
    render(page, ["```brainfuck\n+++[>+<-]\n```\n", "```\n$x$ and \\(y\\)\n```\n"])
    codes = page.locator("pre code")
    assert codes.all_text_contents() == ["+++[>+<-]", "$x$ and \\(y\\)"]
    assert page.locator("pre code span").count() == 0


def test_highlight_false_leaves_code_plain_and_loads_nothing(page: Page) -> None:
    open_page(page)
    requests = vendored_requests(page)
    render(page, ["```python\nimport os\n```\n"], highlight=False)
    assert page.locator("pre code span").count() == 0
    assert page.locator("pre code").text_content() == "import os"
    assert requests == []


# 2. Math


def test_the_four_delimiters_render_katex_with_the_exact_source(page: Page) -> None:
    open_page(page)
    answer = (
        "Inline $\\int_0^1 x\\,dx$ and \\(a_1 + b_{2}\\), display:\n\n$$\\sum_{i=1}^n i^2$$\n\n"
        "\\[\n\\frac{\\partial f}{\\partial x} = \\alpha_0\n\\]\n"
    )
    render(page, pieces(answer, 3))
    katex = page.locator(".ds-chat__content .katex")
    expect(katex).to_have_count(4)
    assert page.locator(".ds-chat__content annotation").all_text_contents() == [
        "\\int_0^1 x\\,dx",
        "a_1 + b_{2}",
        "\\sum_{i=1}^n i^2",
        "\n\\frac{\\partial f}{\\partial x} = \\alpha_0\n",
    ]
    assert page.locator(".ds-chat__content .katex-display").count() == 2


def test_an_unfinished_formula_shows_as_written_while_it_streams(page: Page) -> None:
    open_page(page)
    page.evaluate(RENDER, {"chunks": ["Let $\\int_0"], "options": {}, "end": False})
    host = page.locator(".ds-chat__content")
    expect(host).to_have_text("Let $\\int_0")
    page.evaluate("window.__renderer.write('^1 f$ be it.'); window.__renderer.end()")
    expect(host.locator(".katex annotation")).to_have_text("\\int_0^1 f")
    expect(host).not_to_contain_text("$")
    assert host.locator(".ds-chat__math-pending").count() == 0


def test_money_stays_text(page: Page) -> None:
    open_page(page)
    render(page, pieces("It costs $5 and $10, or $ 3 $ in *cash*; US$2.", 2))
    host = page.locator(".ds-chat__content")
    expect(host).to_have_text("It costs $5 and $10, or $ 3 $ in cash; US$2.")
    assert host.locator(".katex, code").count() == 0
    expect(host.locator("em")).to_have_text("cash")


def test_dollars_in_code_stay_code(page: Page) -> None:
    open_page(page)
    render(page, pieces("Run `echo $HOME $x$` then:\n\n```bash\nexport A=$B$C\n```\n", 2))
    assert page.locator(".ds-chat__content code").all_text_contents() == [
        "echo $HOME $x$",
        "export A=$B$C",
    ]
    assert page.locator(".ds-chat__content .katex").count() == 0


def test_math_false_shows_the_source_as_code_and_loads_no_katex(page: Page) -> None:
    open_page(page)
    requests = vendored_requests(page)
    render(page, ["Area $\\int_0^1 x\\,dx$ and \\[a_1\\]."], math=False)
    sources = page.locator(".ds-chat__content code.ds-chat__math-source")
    assert sources.all_text_contents() == ["$\\int_0^1 x\\,dx$", "\\[a_1\\]"]
    assert page.locator(".ds-chat__content .katex").count() == 0
    assert requests == []


def test_a_hostile_formula_does_nothing(page: Page) -> None:
    open_page(page)
    render(
        page,
        [
            "$\\href{javascript:window.pwned=1}{click}$ $\\url{javascript:window.pwned=2}$ "
            "$\\htmlId{x}{y}$ $\\includegraphics{https://evil.example/x.png}$ "
            '$<img src=x onerror="window.pwned=3">$ $\\text{<b>bold</b>}$ '
            "$\\def\\a{\\a\\a}\\a$"
        ],
    )
    host = page.locator(".ds-chat__content")
    expect(host.locator(".katex")).to_have_count(6)
    # Endless expansion is stopped: the formula shows as written.
    expect(host.locator(".katex-error")).to_have_text("\\def\\a{\\a\\a}\\a")
    assert host.locator("a, img, b, [id='x'], script").count() == 0
    for link in host.locator(".katex a").all():
        link.click()  # never reached: there is none
    assert page.evaluate("window.pwned") is None


def test_code_and_formulas_read_left_to_right_in_a_right_to_left_page(page: Page) -> None:
    open_page(page)
    page.evaluate("document.documentElement.dir = 'rtl'")
    render(page, ["مرحبا `x = 1` و $a_1 + b$\n\n```python\nx = [1, 2]\n```\n"])
    host = page.locator(".ds-chat__content")
    expect(host.locator(".katex")).to_have_count(1)
    assert host.evaluate("h => getComputedStyle(h).direction") == "rtl"
    for selector in ("pre", "pre code", ".ds-chat__math", ":not(pre) > code"):
        direction = host.locator(selector).first.evaluate("e => getComputedStyle(e).direction")
        assert direction == "ltr", selector


# 3. Through the widget


def test_the_widget_streams_highlighted_code_and_katex(page: Page) -> None:
    # Under "default-src 'self'; script-src 'self'": KaTeX styles through the CSSOM, which a
    # CSP allows, and highlight.js's markup has classes only.
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    open_page(page, "csp")
    page.fill(".ds-chat__input", Prompt.CODE_AND_MATH)
    page.press(".ds-chat__input", "Enter")
    answer = page.locator(ASSISTANT)
    expect(answer.locator(".katex")).to_have_count(2)
    expect(answer.locator("pre code .hljs-keyword").first).to_have_text("def")
    assert answer.locator("annotation").first.text_content() == "\\int_0^1 x^2\\,dx"
    assert "def square(x):" in CODE_AND_MATH
    expect(answer).to_contain_text("which costs $5 and $10.")
    assert not [text for text in console if "Content Security Policy" in text], console


def test_the_widget_with_math_off_shows_formulas_as_code(page: Page) -> None:
    open_page(page, "math=off&highlight=off")
    assert page.locator("[data-ds-chat]").get_attribute("data-math") == "false"
    assert page.locator("[data-ds-chat]").get_attribute("data-highlight") == "false"
    page.fill(".ds-chat__input", Prompt.CODE_AND_MATH)
    page.press(".ds-chat__input", "Enter")
    answer = page.locator(ASSISTANT)
    expect(answer.locator("code.ds-chat__math-source").first).to_have_text("$\\int_0^1 x^2\\,dx$")
    expect(page.locator(".ds-chat__log")).to_have_attribute("aria-busy", "false")
    assert answer.locator(".katex, pre code span").count() == 0
