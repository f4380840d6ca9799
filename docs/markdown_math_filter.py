#!/usr/bin/env python3
"""Doxygen input filter for the course's Markdown (FILTER_PATTERNS *.md).

The READMEs are written for GitHub; Doxygen needs a few things spelled its way.
Outside fenced code blocks and `code spans` this filter rewrites

    $$ ... $$ (may span lines)      ->  \\f[ ... \\f]      display math
    $ ... $  or  $`...`$            ->  \\f$ ... \\f$      inline math
    ```math fence                   ->  \\f[ ... \\f]      display math
    [t](../02-slug/README.md)       ->  [t](@ref lesson02)
    [t](../../README.md)            ->  [t](@ref index)   (the main page)
    [t](../02-slug/)                ->  [t](@ref lesson02) (a folder: its README)
    [t](../../docs/glossary.md)     ->  [t](@ref glossary) (docs/ pages are
                                        labelled with their file name)
    [t](../../src/reference/attention.hpp)  ->  [t](@ref reference/attention.hpp)
    [t](example.cpp)                ->  [t](@ref lesson01_example) (the example's page,
                                        which docs/CMakeLists.txt writes)
    [t](../../src/reference/softmax.cpp)  ->  [t](@ref source_reference_softmax_cpp): the
                                        page of a .cpp file a lesson names (--write-source-pages)
    `src/reference/softmax.cpp`     ->  the same, as a link in code font (a .hpp: its API page)
    [t](../src/), [t](x.cpp)        ->  t (`src/`): files the site does not contain

It also gives the first "# Title" of lessons/NN-slug/README.md the label
{#lessonNN} (so that `@ref lesson01` works), and that of docs/NAME.md the
label {#NAME}. And it works around four quirks
of Doxygen 1.9.4: **bold** or *italics* around math or an opening bracket or
quote become <b> or <em> (Doxygen would print the stars), `code with a '` gets
double backticks (Doxygen would read `...' as a quotation), and math in a
# heading is left as TeX source (Doxygen cannot typeset a heading's math), and
`code` in a heading as plain text (the tree view would show its <tt> tags).
It never adds or removes a line, so Doxygen's warnings keep pointing at the
right line of the original file (the only lines it adds come after the last).

A line that is nothing but one of these HTML comments, which GitHub hides,
pulls in what the site shows from the real code, outputs and pictures:

    <!-- snippet src/reference/softmax.cpp softmax_passes -->
        ->  \snippet src/reference/softmax.cpp softmax_passes: the lines between the two
            `// [softmax_passes]` lines of that file (EXAMPLE_PATH finds it)
    <!-- output lesson01 -->
        ->  the whole output of lesson01-example, as run by this build
            (docs/example-output/lesson01.txt), in a box that opens on a click
    <!-- output lesson01 excerpt -->   (just before a ``` block)
        ->  the block stays: it is an excerpt of that output, and the build checks
            that it is (python3 markdown_math_filter.py --check-excerpts)
    <!-- figure lesson01-bank.svg A caption -->
        ->  \image html of a picture the example drew in this build (docs/figures)
    <!-- diagram lesson01 A caption -->
        ->  \dotfile docs/diagrams/lesson01.dot; a ``` block just after the line
            (the text drawing GitHub shows) is left out of the site
    <!-- api-index -->
        ->  a table of every header of src/, grouped by the lesson that introduces it
    <!-- include training_tables.md -->
        ->  that Markdown file of the README's folder (tables that a script generated
            and that are committed, such as lesson 6's scripts/lesson06_tables.py's),
            as one line of HTML where the line is; on GitHub, the reader opens the file

Every lesson page ends with links to the previous and the next lesson, and the
main page with a link to lesson 1. Lesson 5's page also shows, when they exist,
lessons/05-*/benchmark_table.md and gflops_chart.svg: where its README has the
line <!-- benchmarks -->, or else at its end (the chart, then the table, as
<!-- include --> shows a file).

Usage: python3 markdown_math_filter.py FILE.md   (writes the result to stdout)
       python3 markdown_math_filter.py --check-excerpts OUTPUT_DIR README.md...
       python3 markdown_math_filter.py --write-source-pages FOLDER   (prints the pages' paths, ;-separated)
"""
import html
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the project's source directory
LESSON_DIR = re.compile(r"(\d\d)-")  # lessons/01-scaled-dot-product-attention
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^`\s]*)")  # ``` or ~~~, info string
IN_PARAGRAPH = r"(?!\n[ \t]*\n)"  # the next character does not begin a blank line

CODE = rf"(?P<code>(?P<ticks>`+)(?:{IN_PARAGRAPH}.)*?(?<!`)(?P=ticks)(?!`))"  # `code span`

# What to look for in prose, leftmost first; a code span wins over what it contains.
TOKEN = re.compile(
    r"\$`(?P<dollar_code>[^`\n]+)`\$"  # $`inline`$, GitHub's other spelling
    rf"|{CODE}"  # kept as it is
    rf"|\$\$(?P<display>(?:{IN_PARAGRAPH}.)+?)\$\$"  # $$ display $$
    # $inline$: no space just inside the dollars and no digit after, so "$5 or $6" stays
    rf"|(?<![\\$])\$(?P<inline>[^\s$`](?:(?:{IN_PARAGRAPH}[^$`])*?[^\s$`\\])?)\$(?!\d)"
    r"|(?<!!)\[(?P<text>[^\]\n]*)\]\((?P<target>[^)\s]+)\)",  # [link](target), not ![image]
    re.S,
)
# **bold** or *italics*, which Doxygen 1.9.4 may drop (see html_emphasis).
EMPHASIS = re.compile(
    rf"{CODE}|(?P<stars>\*\*?)(?=\S)(?P<inner>(?:{IN_PARAGRAPH}[^*])+?)(?<=\S)(?P=stars)", re.S
)
# <!-- snippet PATH NAME -->, <!-- output lessonNN [excerpt] -->, ...: a line of its own.
DIRECTIVE = re.compile(r"^ {0,3}<!--\s*(?P<name>snippet|output|figure|diagram|api-index|benchmarks|include)\b"
                       r"(?P<arguments>.*?)-->\s*$")


def lesson_label(path):
    """The page label: 'lesson01' for lessons/01-slug/README.md, 'glossary' for
    docs/glossary.md, None for any other file."""
    match = LESSON_DIR.match(path.parent.name)
    if path.name == "README.md" and path.parent.parent == ROOT / "lessons" and match:
        return "lesson" + match.group(1)
    if path.suffix == ".md" and path.parent == ROOT / "docs":
        return path.stem
    return None


def rewrite_link(text, target, here):
    """A Markdown link as Doxygen should see it (None: leave it as it is)."""
    if re.match(r"[a-zA-Z][\w+.-]*:|#|@ref\b|\\ref\b", target):  # URL, anchor or ref
        return None
    path = (here.parent / target.split("#")[0]).resolve()
    if path.is_dir() and (path / "README.md").is_file():  # GitHub shows a folder's README
        path = path / "README.md"
    if path == ROOT / "README.md":
        ref = "index"
    elif path.name == "README.md":
        ref = lesson_label(path)
    elif path.suffix == ".md":
        ref = path.stem
    elif path.suffix == ".hpp" and path.is_relative_to(ROOT / "src"):
        ref = path.relative_to(ROOT / "src").as_posix()  # such as reference/attention.hpp
    elif path.name == "example.cpp" and path.parent.parent == ROOT / "lessons" and LESSON_DIR.match(path.parent.name):
        ref = f"lesson{LESSON_DIR.match(path.parent.name)[1]}_example"  # its page, docs/example_page.md.in
    elif path.suffix == ".cpp" and path.is_relative_to(ROOT / "src") and path.relative_to(ROOT).as_posix() in named_sources():
        ref = source_label(path.relative_to(ROOT).as_posix())  # its page, written by --write-source-pages
    else:
        ref = None
    code = re.fullmatch(r"`([^`]+)`", text)
    if ref and code:  # Doxygen would print the backticks of a code span in a link
        return f"<code>[{code[1]}](@ref {ref})</code>"
    if ref:
        return f"[{text}](@ref {ref})"
    # Not part of the site (.cpp, folder, script...): name it as code instead.
    if code:
        return text
    if " " not in text:
        return f"`{text}`"
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else Path(target)
    return f"{text} (`{shown}{'/' if target.endswith('/') else ''}`)"


# ---- Pages for the source files the lessons name ----
# A lesson that names src/reference/softmax.cpp, as a link or as `src/reference/softmax.cpp`,
# gets a link to that file's page: for a header, its API page (reference/softmax.hpp); for a
# .cpp file, a page showing the whole file, which --write-source-pages writes (docs/CMakeLists.txt
# runs it when it configures the site) and labels source_reference_softmax_cpp.
SOURCE_NAME = re.compile(r"(?<![\w/.-])src/[\w/-]+\.(?:cpp|hpp)\b")  # not workspace/src/...
_named_sources = None


def source_label(relative):
    """The page label of a source file: src/reference/softmax.cpp -> source_reference_softmax_cpp."""
    return "source_" + re.sub(r"[^A-Za-z0-9]", "_", relative.removeprefix("src/"))


def named_sources():
    """The .cpp files of src/ that the lessons name (relative to the project, such as
    src/reference/softmax.cpp), in a link or in the text: each gets a page."""
    global _named_sources
    if _named_sources is None:
        found = set()
        for readme in sorted((ROOT / "lessons").glob("[0-9][0-9]-*/README.md")):
            text = readme.read_text(encoding="utf-8-sig")
            targets = [(readme.parent / target.split("#")[0]).resolve()
                       for target in re.findall(r"\]\(([^)\s]+\.cpp)(?:#[^)]*)?\)", text)]
            targets += [ROOT / name for name in SOURCE_NAME.findall(text)]
            found |= {path.relative_to(ROOT).as_posix() for path in targets
                      if path.suffix == ".cpp" and path.is_relative_to(ROOT / "src") and path.is_file()}
        _named_sources = sorted(found)
    return _named_sources


def source_link(code):
    """`src/reference/softmax.cpp` (a code span naming a file of src/) as a link to its page, else None."""
    name = re.fullmatch(r"`(src/[\w/-]+\.(?:cpp|hpp))`", code)
    if not name or not (ROOT / name[1]).is_file():
        return None
    if name[1].endswith(".hpp"):
        return f"<code>[{name[1]}](@ref {name[1].removeprefix('src/')})</code>"
    if name[1] in named_sources():
        return f"<code>[{name[1]}](@ref {source_label(name[1])})</code>"
    return None


def write_source_pages(folder):
    """Writes a page per named .cpp file, and sources.md listing them as subpages; prints their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    titles = {label: title for label, title, _ in lessons()}
    pages = []
    for relative in named_sources():
        namers = [label for label, _, directory in lessons()
                  if relative in (directory / "README.md").read_text(encoding="utf-8-sig")
                  or relative.removeprefix("src/") in (directory / "README.md").read_text(encoding="utf-8-sig")]
        header = Path(relative).with_suffix(".hpp")
        lines = [f"# {relative} {{#{source_label(relative)}}}", "",
                 f"The whole of `{relative}`, as it is in this version of the course (the site's build "
                 "writes this page from the file itself)."]
        lines.append("")
        if namers:
            lines.append("- Taught in: " + ", ".join(f'@ref {label} {doxygen_string(titles[label])}' for label in namers))
        if (ROOT / header).is_file():
            lines.append(f"- What it declares, with shapes and errors: @ref {header.as_posix().removeprefix('src/')}")
        lines += ["", f"\\include{{lineno}} {relative}", ""]
        page = folder / f"{source_label(relative)}.md"
        text = "\n".join(lines)
        if not page.is_file() or page.read_text(encoding="utf-8") != text:
            page.write_text(text, encoding="utf-8")
        pages.append(page)
    index = folder / "sources.md"
    text = "\n".join(["# Source files the lessons name {#sources}", "",
                      "Each `.cpp` file of `src/` that a lesson names, whole, with line numbers. "
                      "The headers have their own pages in the API reference.", ""]
                     + [f"- @subpage {source_label(relative)}" for relative in named_sources()]) + "\n"
    if not index.is_file() or index.read_text(encoding="utf-8") != text:
        index.write_text(text, encoding="utf-8")
    for stale in set(folder.glob("source_*.md")) - set(pages):
        stale.unlink()
    print(";".join(str(path) for path in [index] + pages))


def convert_prose(prose, here):
    formulas = []  # each formula waits here until emphasis is done, so that its * are safe
    in_link_text = []  # not empty while the text of a [link](target) is converted

    def set_aside(formula, mark):  # mark: \0 inline, \1 display
        formulas.append(formula)
        return f"{mark}{len(formulas) - 1}{mark}"

    def replace(match):
        if match["code"] and match["ticks"] == "`" and "'" in match["code"]:
            return "`" + match["code"] + "`"  # Doxygen 1.9.4 reads `it's` as a `quote'
        if match["code"]:  # a src/ file named in code font links to its page, unless already in a link's text
            return (not in_link_text and source_link(match["code"])) or match["code"]
        if match["display"] is not None:
            return set_aside(r"\f[" + match["display"] + r"\f]", "\1")
        if match["inline"] or match["dollar_code"]:
            return set_aside(r"\f$" + (match["inline"] or match["dollar_code"]) + r"\f$", "\0")
        in_link_text.append(True)
        text = TOKEN.sub(replace, match["text"])  # math inside the link text
        in_link_text.pop()
        return rewrite_link(text, match["target"], here) or f"[{text}]({match['target']})"

    def html_emphasis(match):  # Doxygen 1.9.4 drops emphasis around math or after *(
        if match["code"] or not re.search(r"\0|^[(\"'“‘]", match["inner"]):
            return match[0]
        tag = "b" if match["stars"] == "**" else "em"
        return f"<{tag}>{match['inner']}</{tag}>"

    prose = EMPHASIS.sub(html_emphasis, TOKEN.sub(replace, prose))
    return re.sub(r"[\0\1](\d+)[\0\1]", lambda mark: formulas[int(mark[1])], prose)


def lessons():
    """(label, title, folder) of every lessons/NN-slug/README.md, in order."""
    found = []
    for readme in sorted((ROOT / "lessons").glob("[0-9][0-9]-*/README.md")):
        title = next((line[2:].strip() for line in readme.read_text(encoding="utf-8-sig").splitlines()
                      if line.startswith("# ")), readme.parent.name)
        found.append((lesson_label(readme), re.sub(r"\s*\{#\w+\}$", "", title).rstrip("# "), readme.parent))
    return found


def doxygen_string(text):
    """Text as a quoted argument of a Doxygen command."""
    return '"' + text.replace('"', "'") + '"'


def lesson_navigation(label):
    """The "Previous: ... | Next: ..." line that ends a lesson page (or the main page)."""
    all_lessons = lessons()
    labels = [entry[0] for entry in all_lessons]
    if label == "index":
        if not all_lessons:
            return ""
        first, title, _ = all_lessons[0]
        return f'\n\n<div class="mha-lesson-nav"><b>Start:</b> @ref {first} {doxygen_string(title)}</div>\n'
    position = labels.index(label)
    parts = []
    if position > 0:
        previous, title, _ = all_lessons[position - 1]
        parts.append(f"<b>Previous:</b> @ref {previous} {doxygen_string(title)}")
    else:
        parts.append('<b>Previous:</b> @ref index "Course home"')
    if position + 1 < len(all_lessons):
        following, title, _ = all_lessons[position + 1]
        parts.append(f"<b>Next:</b> @ref {following} {doxygen_string(title)}")
    else:
        parts.append('<b>Back to:</b> @ref index "Course home"')
    return '\n\n<div class="mha-lesson-nav">' + " | ".join(parts) + "</div>\n"


def inline_markdown(text):
    """One line of a generated Markdown file as HTML: **bold** and `code`, the rest
    escaped for HTML and for Doxygen (which would read \\, @ and % as commands)."""
    out = []
    for part in re.split(r"(`[^`]+`)", text):
        code = len(part) > 1 and part.startswith("`") and part.endswith("`")
        part = html.escape(part[1:-1] if code else part, quote=False)
        part = part.replace("\\", "\\\\").replace("@", "\\@").replace("%", "\\%")
        out.append(f"<code>{part}</code>" if code else re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", part))
    return "".join(out)


def include(here, name):
    """The Markdown file `name` of the README's folder, as one line of HTML for the page.

    For the tables that scripts generate (lesson 5's benchmark_table.md, lesson 6's
    training_tables.md): headings, paragraphs, "- " lists and tables, with **bold** and
    `code`; HTML comments are dropped. Doxygen 1.9.4's \\include{doc} would drop
    everything from the file's first heading on, and pasting the file's lines in would
    move every later line of the page; one line of HTML does neither. The file's
    headings become <h2>, <h3>, ..., its highest level <h2>."""
    lines = (here.parent / name).read_text(encoding="utf-8-sig").splitlines()
    top = min((len(m[1]) for m in (re.match(r"(#+) ", line) for line in lines) if m), default=1)
    out, paragraph, items, rows = [], [], [], []

    def table_html():
        cells = [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows]
        header, rule = cells[0], cells[1] if len(cells) > 1 else []
        align = [' align="center"' if c.startswith(":") and c.endswith(":") else
                 ' align="right"' if c.endswith(":") else "" for c in rule]
        align += [""] * (len(header) - len(align))
        html_rows = ["".join(f"<th{a}>{inline_markdown(c)}</th>" for c, a in zip(header, align))]
        html_rows += ["".join(f"<td{a}>{inline_markdown(c)}</td>" for c, a in zip(row, align)) for row in cells[2:]]
        return "<table>" + "".join(f"<tr>{row}</tr>" for row in html_rows) + "</table>"

    def flush():
        if paragraph:
            out.append(f"<p>{inline_markdown(' '.join(paragraph))}</p>")
        if items:
            out.append("<ul>" + "".join(f"<li>{inline_markdown(item)}</li>" for item in items) + "</ul>")
        if rows:
            out.append(table_html())
        paragraph.clear()
        items.clear()
        rows.clear()

    for line in lines:
        heading = re.match(r"(#+) +(.*?)[\s#]*$", line)
        item = re.match(r"\s*[-*] +(.*)$", line)
        if not line.strip() or re.fullmatch(r"\s*<!--.*-->\s*", line):
            flush()
        elif heading:
            flush()
            level = min(6, 2 + len(heading[1]) - top)
            out.append(f"<h{level}>{inline_markdown(heading[2])}</h{level}>")
        elif line.lstrip().startswith("|"):
            if paragraph or items:
                flush()
            rows.append(line)
        elif item:
            if paragraph or rows:
                flush()
            items.append(item[1])
        elif items and line.startswith(" "):
            items[-1] += " " + line.strip()  # a list item's next line
        else:
            if items or rows:
                flush()
            paragraph.append(line.strip())
    flush()
    return "".join(out)


def benchmarks(here):
    """Lesson 5's measured table and chart, when its folder has them (else "")."""
    folder = here.parent
    parts = []  # on one line, so that the page keeps its line numbers
    if (folder / "gflops_chart.svg").is_file():
        parts.append('\\image html gflops_chart.svg "Measured speed, GFLOP/s"')
    if (folder / "benchmark_table.md").is_file():
        parts.append(include(here, "benchmark_table.md"))
    return " ".join(parts)


def api_index():
    """Every header of src/, grouped by the lesson its @file brief names (@ref lessonNN)."""
    titles = {label: title for label, title, _ in lessons()}
    groups = {}
    for header in sorted((ROOT / "src").rglob("*.hpp")):
        brief = re.search(r"^///\s*@brief\s+(.*)$", header.read_text(encoding="utf-8"), re.M)
        text = brief[1].strip() if brief else ""
        lesson = re.search(r"@ref (lesson\d\d)", text)
        label = lesson[1] if lesson and lesson[1] in titles else None
        text = re.sub(r"\s*\(introduced in @ref lesson\d\d\)", "", text).rstrip(".")
        groups.setdefault(label, []).append((header.relative_to(ROOT / "src").as_posix(), text))
    lines = []
    for label in sorted(groups, key=lambda name: (name is None, name or "")):
        heading = f"@ref {label} {doxygen_string(titles[label])}" if label else "Shared by the lessons"
        lines += [f"<b>{heading}</b>", "", "| Header | What it holds |", "|--------|---------------|"]
        lines += [f"| @ref {name} | {text} |" for name, text in groups[label]]
        lines.append("")
    return "\n".join(lines) + "\n"


def directive(match, here):
    """The Doxygen text of one <!-- name arguments --> line; None: keep the line as it is."""
    name, arguments = match["name"], match["arguments"].split()
    if name == "snippet" and len(arguments) == 2:
        return f"\\snippet {arguments[0]} {arguments[1]}\n"
    if name == "output" and len(arguments) == 1:
        lesson = arguments[0]
        return (f'<details class="mha-output"><summary>The whole output of <code>{lesson}-example</code>, '
                f"as it ran while this page was built</summary>\\verbinclude {lesson}.txt </details>\n")
    if name == "output" and len(arguments) == 2 and arguments[1] == "excerpt":
        return (f'<div class="mha-excerpt">From the output of <code>{arguments[0]}-example</code>, '
                "as it ran while this page was built:</div>\n")
    if name == "figure" and arguments:
        caption = " ".join(arguments[1:])
        return f"\\image html {arguments[0]}" + (f" {doxygen_string(caption)}" if caption else "") + "\n"
    if name == "diagram" and arguments:
        caption = " ".join(arguments[1:])
        return f"\\dotfile {arguments[0]}.dot" + (f" {doxygen_string(caption)}" if caption else "") + "\n"
    if name == "api-index":
        return api_index()
    if name == "benchmarks":
        return benchmarks(here) + "\n"
    if name == "include" and len(arguments) == 1 and "/" not in arguments[0]:
        return include(here, arguments[0]) + "\n"
    return None


def filter_markdown(source, here):
    label = lesson_label(here)
    page = "index" if here == ROOT / "README.md" else label
    out, prose = [], []
    fence = None  # the ``` or ~~~ that opened the fenced block we are in
    math = False  # whether that block is a ```math block
    hide = False  # whether that block is left out (a diagram replaces it)
    hide_next_fence = False  # the line before was a <!-- diagram -->
    has_benchmarks_line = False
    for line in re.findall(r".*\n|.+$", source):  # lines, split at \n only
        marker = FENCE.match(line)
        command = DIRECTIVE.match(line) if fence is None else None
        if command and directive(command, here) is not None:
            out.append(convert_prose("".join(prose), here))
            prose = []
            out.append(directive(command, here))
            hide_next_fence = command["name"] == "diagram"
            has_benchmarks_line |= command["name"] == "benchmarks"
            continue
        if fence is None and marker:  # a fenced block opens: convert the prose so far
            out.append(convert_prose("".join(prose), here))
            prose = []
            fence, math, hide = marker.group(1), marker.group(2) == "math", hide_next_fence
            out.append("\n" if hide else line[: marker.start(1)] + "\\f[\n" if math else line)
        elif fence is not None:  # inside a fenced block: copied, except a math fence
            if marker and marker.group(1).startswith(fence) and not marker.group(2):
                fence = None
                out.append("\n" if hide else line[: marker.start(1)] + "\\f]\n" if math else line)
            else:
                out.append("\n" if hide else line)
        else:
            if re.match(r" {0,3}#{1,6} ", line):  # Doxygen 1.9.4 typesets no math in a
                line = re.sub(r"\$+([^$]+)\$+",  # heading: show the TeX, \ escaped
                              lambda formula: formula[1].replace("\\", "\\\\"), line)
                # and would show a `code` heading's <tt> tags as text in the tree view
                line = re.sub(r"`+([^`]+)`+", r"\1", line)
            if label and line.startswith("# "):  # the lesson's title: label it once
                if "{#" not in line:
                    line = line.rstrip().rstrip("#").rstrip() + f" {{#{label}}}\n"
                label = None
            prose.append(line)
        hide_next_fence = False
    out.append(convert_prose("".join(prose), here))
    # After the last line: lesson 5's measurements, then the way to the next lesson.
    if page and page.startswith("lesson") and not has_benchmarks_line and benchmarks(here):
        out.append("\n\n## Measured on this machine\n\n" + benchmarks(here) + "\n")
    if page == "index" or (page and page.startswith("lesson")):
        out.append(lesson_navigation(page))
    return "".join(out)


def check_excerpts(output_dir, readmes):
    """Every ``` block after <!-- output lessonNN excerpt --> must be lines of that
    example's output (docs/example-output/lessonNN.txt), in order; a line "..."
    skips any number of lines. Returns the problems found, as text."""
    problems = []
    for readme in map(Path, readmes):
        lines = readme.read_text(encoding="utf-8-sig").splitlines()
        for number, line in enumerate(lines):
            command = DIRECTIVE.match(line)
            arguments = command["arguments"].split() if command else []
            if not command or command["name"] != "output" or arguments[1:] != ["excerpt"]:
                continue
            where = f"{readme}:{number + 1}"
            output_file = Path(output_dir) / f"{arguments[0]}.txt"
            if not output_file.is_file():
                problems.append(f"{where}: there is no output {output_file}")
                continue
            if number + 1 >= len(lines) or not FENCE.match(lines[number + 1]):
                problems.append(f"{where}: the line after <!-- output ... excerpt --> must open a ``` block")
                continue
            block = []
            for text in lines[number + 2:]:
                if FENCE.match(text):
                    break
                block.append(text.rstrip())
            output = [text.rstrip() for text in output_file.read_text(encoding="utf-8").splitlines()]
            position = 0  # where the next line of the excerpt may be found
            gap = True  # whether lines may be skipped before it: at the start, and after "..."
            for offset, text in enumerate(block):
                if text.strip() == "...":
                    gap = True
                    continue
                found = next((i for i in range(position, len(output) if gap else position + 1)
                              if i < len(output) and output[i] == text), None)
                if found is None:
                    problems.append(f"{readme}:{number + 3 + offset}: this line of the excerpt is not what "
                                    f"{arguments[0]}-example printed{' next' if not gap else ''}:\n    {text}\n"
                                    f"  (the example's output is {output_file}; paste the real line)")
                    break
                position, gap = found + 1, False
    return problems


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write-source-pages"] and len(sys.argv) == 3:
        write_source_pages(sys.argv[2])
        sys.exit(0)
    if sys.argv[1:2] == ["--check-excerpts"]:
        found = check_excerpts(sys.argv[2], sys.argv[3:])
        for problem in found:
            print(problem, file=sys.stderr)
        sys.exit(1 if found else 0)
    file = Path(sys.argv[1]).resolve()
    sys.stdout.reconfigure(encoding="utf-8")
    sys.stdout.write(filter_markdown(file.read_text(encoding="utf-8-sig"), file))
