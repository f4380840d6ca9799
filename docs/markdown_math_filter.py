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
    [t](../../src/attention.hpp)    ->  [t](@ref attention.hpp)
    [t](example.cpp), [t](../src/)  ->  t (`lessons/01-slug/example.cpp`):
                                        files the site does not contain

It also gives the first "# Title" of lessons/NN-slug/README.md the label
{#lessonNN} (so that `@ref lesson01` works), and that of docs/NAME.md the
label {#NAME}. And it works around three quirks
of Doxygen 1.9.4: **bold** or *italics* around math or an opening bracket or
quote become <b> or <em> (Doxygen would print the stars), `code with a '` gets
double backticks (Doxygen would read `...' as a quotation), and math in a
# heading is left as TeX source (Doxygen cannot typeset a heading's math).
It never adds or removes a line, so Doxygen's warnings keep pointing at the
right line of the original file.

Usage: python3 markdown_math_filter.py FILE.md   (writes the result to stdout)
"""
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
    elif path.suffix == ".hpp" and path.parent == ROOT / "src":
        ref = path.name
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


def convert_prose(prose, here):
    formulas = []  # each formula waits here until emphasis is done, so that its * are safe

    def set_aside(formula, mark):  # mark: \0 inline, \1 display
        formulas.append(formula)
        return f"{mark}{len(formulas) - 1}{mark}"

    def replace(match):
        if match["code"] and match["ticks"] == "`" and "'" in match["code"]:
            return "`" + match["code"] + "`"  # Doxygen 1.9.4 reads `it's` as a `quote'
        if match["code"]:
            return match["code"]
        if match["display"] is not None:
            return set_aside(r"\f[" + match["display"] + r"\f]", "\1")
        if match["inline"] or match["dollar_code"]:
            return set_aside(r"\f$" + (match["inline"] or match["dollar_code"]) + r"\f$", "\0")
        text = TOKEN.sub(replace, match["text"])  # math inside the link text
        return rewrite_link(text, match["target"], here) or f"[{text}]({match['target']})"

    def html_emphasis(match):  # Doxygen 1.9.4 drops emphasis around math or after *(
        if match["code"] or not re.search(r"\0|^[(\"'“‘]", match["inner"]):
            return match[0]
        tag = "b" if match["stars"] == "**" else "em"
        return f"<{tag}>{match['inner']}</{tag}>"

    prose = EMPHASIS.sub(html_emphasis, TOKEN.sub(replace, prose))
    return re.sub(r"[\0\1](\d+)[\0\1]", lambda mark: formulas[int(mark[1])], prose)


def filter_markdown(source, here):
    label = lesson_label(here)
    out, prose = [], []
    fence = None  # the ``` or ~~~ that opened the fenced block we are in
    math = False  # whether that block is a ```math block
    for line in re.findall(r".*\n|.+$", source):  # lines, split at \n only
        marker = FENCE.match(line)
        if fence is None and marker:  # a fenced block opens: convert the prose so far
            out.append(convert_prose("".join(prose), here))
            prose = []
            fence, math = marker.group(1), marker.group(2) == "math"
            out.append(line[: marker.start(1)] + "\\f[\n" if math else line)
        elif fence is not None:  # inside a fenced block: copied, except a math fence
            if marker and marker.group(1).startswith(fence) and not marker.group(2):
                fence = None
                out.append(line[: marker.start(1)] + "\\f]\n" if math else line)
            else:
                out.append(line)
        else:
            if re.match(r" {0,3}#{1,6} ", line):  # Doxygen 1.9.4 typesets no math in a
                line = re.sub(r"\$+([^$]+)\$+",  # heading: show the TeX, \ escaped
                              lambda formula: formula[1].replace("\\", "\\\\"), line)
            if label and line.startswith("# "):  # the lesson's title: label it once
                if "{#" not in line:
                    line = line.rstrip().rstrip("#").rstrip() + f" {{#{label}}}\n"
                label = None
            prose.append(line)
    out.append(convert_prose("".join(prose), here))
    return "".join(out)


if __name__ == "__main__":
    file = Path(sys.argv[1]).resolve()
    sys.stdout.reconfigure(encoding="utf-8")
    sys.stdout.write(filter_markdown(file.read_text(encoding="utf-8-sig"), file))
