#!/usr/bin/env python3
"""What the course site needs after Doxygen has written it (run_doxygen.cmake runs this).

    python3 site_postprocess.py HTML_DIR

Rewrites the generated pages in place, and writes one file:

- Diagrams: Doxygen 1.9.4 shows a \\dotfile as an <iframe scrolling="no"> of fixed
  size, which a narrow screen cuts off. Each becomes a picture that scales to the
  width of the page, inside a link that opens it full size (a tap on a phone).
- Pictures the examples drew (heatmaps): each gets a minimum width at which its
  smallest text (the numbers) is still 9 px; on a narrower screen its box scrolls sideways
  instead of shrinking the numbers (course.css: div.image scrolls).
- Pictures of several heatmaps (svg_side_by_side: one per head): a row of buttons before
  each, "All heads" and one per panel, which mha_figures.js uses to show one head at a
  time; each panel is written as a file of its own (NAME.panel-N.svg).
- A table of contents, in Doxygen's own markup (div.toc, which doxygen-awesome's
  interactive table of contents picks up), on every lesson page, from its headings.
- The sidebar has one top entry for the main page, "Course home" (Doxygen lists the main
  page twice: as the tree's root, under the project's name, and as its first child).
- mha_search_index.js: the full text of the lessons and the course's other pages,
  section by section (and the start of each API page's sections), for the search box of every page (mha_search.js). A <script>
  file rather than JSON, because a page opened from file:// may not fetch().
"""
import html
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

LESSON_PAGE = re.compile(r"lesson\d\d\.html$")
SMALLEST_TEXT_PX = 9.0  # a heatmap shrinks no further than this for its smallest text (its numbers)
OTHER_PAGES = ["index.html", "exercises.html", "glossary.html", "api.html"]  # also searched in full
API_PAGE = re.compile(r"(struct|class)mha_1_1[^.]*\.html$|[a-z_0-9]+_8hpp\.html$")  # searched in part
API_TEXT_CHARACTERS = 600


def svg_size_and_smallest_text(svg_file):
    """(width, smallest font-size of its text) of an SVG file, or None."""
    try:
        text = svg_file.read_text(encoding="utf-8")
    except OSError:
        return None
    width = re.search(r'<svg\b[^>]*?\swidth="([\d.]+)(?:px)?"', text)
    sizes = [float(size) for size in re.findall(r'font-size="([\d.]+)(?:px)?"', text)]
    if not width or not sizes:
        return None
    return float(width[1]), min(sizes)


def diagrams_as_pictures(page):
    """<iframe scrolling="no" src="dot_x.svg" width= height=> -> a scaling picture in a link."""
    def picture(match):
        attributes = match[1]
        source = re.search(r'src="([^"]+)"', attributes)[1]
        width = re.search(r'width="(\d+)"', attributes)
        height = re.search(r'height="(\d+)"', attributes)
        size = f' width="{width[1]}" height="{height[1]}"' if width and height else ""
        return (f'<a class="mha-diagram" href="{source}" title="Open the diagram full size">'
                f'<img src="{source}"{size} alt="Diagram (open it full size)"/></a>')
    return re.sub(r'<iframe scrolling="no"([^>]*\bsrc="[^"]+\.svg"[^>]*)>.*?</iframe>', picture, page, flags=re.S)


def readable_figures(page, html_dir):
    """Every <object> picture of a div.image gets the minimum width that keeps its text readable."""
    def sized(match):
        tag, source = match[0], match[1]
        found = svg_size_and_smallest_text(html_dir / source)
        if not found or "min-width" in tag:
            return tag
        width, minimum = sizes_of(html_dir / source)
        style = f"width: {width}px; min-width: {minimum}px;"
        if 'style="' in tag:
            return tag.replace('style="', f'style="{style} ', 1)
        return tag.replace("<object ", f'<object style="{style}" ', 1)
    return re.sub(r'<object type="image/svg\+xml" data="([^"]+\.svg)"[^>]*>', sized, page)


NESTED_PANEL = re.compile(r'<svg x="([\d.]+)" y="([\d.]+)"(.*?</svg>)', re.S)  # svg_side_by_side's panels


def panels_of(svg_text):
    """The panels of a picture svg_side_by_side composed: [(title, standalone SVG text)]."""
    if not svg_text.lstrip().startswith("<svg") or svg_text.count("<svg") < 3:
        return []
    body = svg_text[svg_text.index(">") + 1:]  # inside the outer <svg>
    panels = []
    for match in NESTED_PANEL.finditer(body):
        inner = "<svg" + match[3] + "\n"
        title = re.search(r'font-weight="bold"[^>]*>([^<]*)</text>', inner)
        panels.append((html.unescape(title[1]) if title else f"Panel {len(panels) + 1}", inner))
    return panels if len(panels) > 1 else []


def panel_switches(page, html_dir):
    """Before each picture of several heatmaps (one per head, say), a row of buttons that shows
    all of them or one at a time (mha_figures.js swaps the picture). Each panel becomes a file
    of its own, NAME.panel-N.svg, with the width that keeps its numbers readable."""
    if "mha-panel-switch" in page:
        return page

    def switch(match):
        tag, source = match[0], match[1]
        picture = html_dir / source
        try:
            panels = panels_of(picture.read_text(encoding="utf-8"))
        except OSError:
            return tag
        if not panels:
            return tag
        choices = []
        width, minimum = sizes_of(picture)
        everything = "All heads" if all("head" in title.lower() for title, _ in panels) else "All"
        choices.append((everything, source, width, minimum))
        for number, (title, text) in enumerate(panels, start=1):
            name = f"{source[:-4]}.panel-{number}.svg"
            (html_dir / name).write_text(text, encoding="utf-8")
            width, minimum = sizes_of(html_dir / name)
            choices.append((title, name, width, minimum))
        buttons = "".join(
            f'<button type="button" data-src="{html.escape(name)}" data-width="{w}" data-min-width="{m}"'
            f' aria-pressed="{"true" if index == 0 else "false"}">{html.escape(title)}</button>'
            for index, (title, name, w, m) in enumerate(choices))
        return (f'<span class="mha-panel-switch" role="group" aria-label="Show every panel or one">'
                f'<span class="mha-panel-switch-label">Show:</span>{buttons}</span>' + tag)
    return re.sub(r'<object type="image/svg\+xml" data="([^"]+\.svg)"[^>]*>', switch, page)


def sizes_of(svg_file):
    """(width, min-width) in px for a picture: its own width, and the narrowest at which its
    smallest text is still SMALLEST_TEXT_PX."""
    found = svg_size_and_smallest_text(svg_file)
    if not found:
        return 0, 0
    width, smallest = found
    return round(width), round(width * min(1.0, SMALLEST_TEXT_PX / smallest))


class Sections(HTMLParser):
    """The page's title, and its text cut at every heading: [(anchor, heading, text)]."""

    SKIP = {"script", "style", "head"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.sections = [["", "", [], []]]  # the text before the first heading belongs to the page
        self.emphasis = 0  # inside <b>, <strong>, <em> or <dfn>: a term the section defines
        self.depth_skip = 0
        self.in_title = False
        self.in_heading = None  # the level of the <h1>-<h3> we are in
        self.in_contents = 0  # depth inside div.contents
        self.div_depth = 0
        self.skip_div_depth = None  # inside div.toc or div.mha-lesson-nav: not indexed

    def handle_starttag(self, tag, attributes):
        attributes = dict(attributes)
        if tag in self.SKIP:
            self.depth_skip += 1
        if tag == "div":
            self.div_depth += 1
            classes = (attributes.get("class") or "").split()
            if "title" in classes:
                self.in_title = True
            if "contents" in classes and not self.in_contents:
                self.in_contents = self.div_depth
            if self.skip_div_depth is None and {"toc", "mha-lesson-nav", "dotgraph"} & set(classes):
                self.skip_div_depth = self.div_depth
        if self.in_contents and tag in ("h1", "h2", "h3") and self.skip_div_depth is None:
            self.in_heading = tag
            self.sections.append(["", "", [], []])
        if self.in_heading and tag == "a" and attributes.get("id") and not self.sections[-1][0]:
            self.sections[-1][0] = attributes["id"]
        if tag in ("b", "strong", "em", "dfn"):
            self.emphasis += 1
            self.sections[-1][3].append(" ")
        if tag in ("p", "li", "tr", "br", "pre", "div", "dt", "dd", "h1", "h2", "h3", "h4", "td", "th"):
            self.sections[-1][2].append(" ")

    def handle_endtag(self, tag):
        if tag in ("b", "strong", "em", "dfn") and self.emphasis:
            self.emphasis -= 1
        if tag in self.SKIP:
            self.depth_skip -= 1
        if tag == "div":
            if self.skip_div_depth == self.div_depth:
                self.skip_div_depth = None
            if self.in_contents == self.div_depth:
                self.in_contents = 0
            self.div_depth -= 1
            self.in_title = False
        if tag == self.in_heading:
            self.in_heading = None

    def handle_data(self, data):
        if self.depth_skip:
            return
        if self.in_title:
            self.title += data
            return
        if not self.in_contents or self.skip_div_depth is not None:
            return
        if self.in_heading:
            self.sections[-1][1] += data
        else:
            self.sections[-1][2].append(data)
            if self.emphasis:
                self.sections[-1][3].append(data)


def plain_math(text):
    """MathJax's source in the text, \\(QK^\\top / \\sqrt{d_k}\\), as a reader would type it: QK^top / sqrt d_k."""
    text = re.sub(r"\\[()\[\]]", "", text)  # the delimiters
    text = re.sub(r"\\(?:mathrm|text|operatorname|mathit|mathbf|left|right|big|Big)\b", "", text)
    text = re.sub(r"\\([a-zA-Z]+)", r"\1 ", text)  # \sqrt -> sqrt, \top -> top
    return re.sub(r"[{}]", "", text).replace("\\,", " ").replace("\\;", " ")


def page_sections(page):
    parser = Sections()
    parser.feed(page)
    squeeze = lambda text: re.sub(r"\s+", " ", plain_math(text)).strip()
    sections = [(anchor, squeeze(heading), squeeze("".join(text)), squeeze(" ".join(terms)))
                for anchor, heading, text, terms in parser.sections]
    return squeeze(parser.title), [section for section in sections if section[1] or section[2]]


def table_of_contents(page):
    """Doxygen's [TOC] markup for the page's h1 and h2 headings (Markdown's ## and ###)."""
    if 'class="toc"' in page:
        return page
    headings = re.findall(r'<(h[12])><a class="anchor" id="([^"]+)"></a>\s*(.*?)</h[12]>', page, re.S)
    if len(headings) < 2:
        return page
    items, level = [], 1
    for tag, anchor, text in headings:
        new_level = int(tag[1])
        if new_level > level:
            items.append('<ul>')
        elif new_level < level:
            items.append('</li></ul></li>')
        elif items:
            items.append('</li>')
        level = new_level
        items.append(f'<li class="level{level}"><a href="#{anchor}">{text.strip()}</a>')
    items.append('</li>' + '</ul></li>' * (level - 1))
    toc = '<div class="toc"><h3>Table of Contents</h3>\n<ul>' + "".join(items) + '</ul>\n</div>\n'
    return page.replace('<div class="contents">\n', '<div class="contents">\n' + toc, 1)


def one_top_entry(html_dir):
    """The sidebar's top entry is the main page, "Course home"; Doxygen also lists the main page
    again as the root's first child, under its own title: that second entry goes. Every page's
    place in the tree (navtreeindexN.js: "lesson01.html":[1]) then moves up by one, and the
    main page's own sections point at the top entry."""
    navtree = html_dir / "navtreedata.js"
    if not navtree.is_file():
        return
    text = navtree.read_text(encoding="utf-8")
    found = re.search(r"(var NAVTREE =\s*)(\[.*?\n\]);", text, re.S)
    if not found:
        return
    tree = json.loads(found[2])
    root = tree[0]  # [title, "index.html", children]
    children = root[2] or []
    duplicate = next((i for i, child in enumerate(children) if child[1] == root[1]), None)
    root[0] = "Course home"
    if duplicate is not None:
        del children[duplicate]
    text = text[:found.start(2)] + json.dumps(tree, ensure_ascii=False, indent=1) + text[found.end(2):]
    navtree.write_text(text, encoding="utf-8")
    if duplicate is None:
        return

    def moved(match):
        path = [int(number) for number in match[2].split(",")] if match[2] else []
        if path and path[0] == duplicate:
            path = []  # the main page or one of its sections: the top entry
        elif path and path[0] > duplicate:
            path[0] -= 1
        return match[1] + "[" + ",".join(map(str, path)) + "]"

    for index_file in html_dir.glob("navtreeindex*.js"):
        text = index_file.read_text(encoding="utf-8")
        index_file.write_text(re.sub(r'("[^"\n]*":)\[([\d,]*)\]', moved, text), encoding="utf-8")


def main(html_dir):
    html_dir = Path(html_dir)
    index = []
    for file in sorted(html_dir.glob("*.html")):
        page = file.read_text(encoding="utf-8")
        changed = diagrams_as_pictures(readable_figures(panel_switches(page, html_dir), html_dir))
        if LESSON_PAGE.match(file.name):
            changed = table_of_contents(changed)
        if changed != page:
            file.write_text(changed, encoding="utf-8")
        lesson = bool(LESSON_PAGE.match(file.name))
        if lesson or file.name in OTHER_PAGES or API_PAGE.match(file.name):
            title, sections = page_sections(changed)
            for anchor, heading, text, terms in sections:
                if not (lesson or file.name in OTHER_PAGES):
                    text = text[:API_TEXT_CHARACTERS]  # an API page: its names and the start of its text
                    terms = ""
                entry = {"p": file.name, "t": title, "a": anchor, "h": heading, "x": text}
                if terms:
                    entry["k"] = terms  # the words in bold or italics: what the section defines
                index.append(entry)
    one_top_entry(html_dir)
    (html_dir / "mha_search_index.js").write_text(
        "// Generated by docs/site_postprocess.py when the site was built: the text of every\n"
        "// section of the lessons and the course's pages, for mha_search.js.\n"
        "var MHA_SEARCH_INDEX = " + json.dumps(index, ensure_ascii=False, separators=(",", ":")) + ";\n",
        encoding="utf-8")
    print(f"site_postprocess.py: {len(index)} sections indexed for the search box")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: site_postprocess.py HTML_DIR")
    main(sys.argv[1])
