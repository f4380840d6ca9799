#!/usr/bin/env node
// The course website as a reader sees it (ctest -L docs; tests/docs/site_test.cmake runs it).
//
//   node check_site.js HTML_DIR SCREENSHOT_DIR PROJECT_DIR [CHROMIUM]
//
// Serves HTML_DIR (the built site) on 127.0.0.1, opens the main page, every lesson
// page (one per lessons/NN-*/README.md of PROJECT_DIR), the exercises page, the
// glossary, the API index, a few API pages, the list of source files and one of them in Debian's headless Chromium
// (/usr/bin/chromium, driven by playwright-core, which downloads no browser), and
// fails when a page
//   - has a JavaScript error (an uncaught exception or a console error),
//   - loads anything from outside the site, or anything that fails to load,
//   - links to a page or an anchor of the site that does not exist,
//   - has an image, an <object> or an <iframe> whose file is missing or did not load,
//   - shows raw TeX (\f$, \frac, $$, \sqrt, ...) outside code once MathJax is done,
//     or MathJax reported an error,
//   - is a lesson page (lessons 1-4) without its figure, diagram, code snippet,
//     the example's output and the link to the next lesson,
//   - is a lesson page without its table of contents, or (lesson 5) without every
//     heading and table of its benchmark_table.md,
//   - is a lesson page with an element that sticks out of its container sideways: out of
//     the page, or cut off by a box that does not scroll (a formula, table or heatmap may
//     scroll inside its own box, overflow-x: auto), or a heatmap whose smallest text is
//     shrunk below 9 px, or a diagram cut off by its frame; at 1280 px, a display formula
//     wider than its column (it may scroll only on a phone).
//   - is a lesson page with a heatmap cell without its hover title (query word, key word,
//     weight, agreeing with the percentage the cell shows), or without the pictures its
//     example draws with the course's code (GENERATED_PICTURES: the positional encodings,
//     split_heads, the packed in_proj_weight, concat_heads), or with such a picture that is
//     a committed file rather than this build's,
//   - names a file of src/ in its text without a link to a page that shows it,
//   - (lessons 1-4, at 390 px) does not show a heatmap cell's title under its picture when
//     the cell is tapped,
//   - (lessons 3, 4, 6, at 1280 px) shows several heads in one picture without a switch
//     between all heads and one, or with a switch that does not show one head alone.
// Every lesson page is checked twice: at 1280 px wide and at a phone's 390 px.
// The sidebar must show every title whole, and no page twice among its first entries (the
// main page was both the tree's root and its first child). And the search box, on the main page opened
// from file://, must find the lessons that teach "positional", "causal" and "online softmax".
// It saves a screenshot of each page's first screen (NAME.png), of the whole page
// (NAME-full.png), and of every picture and diagram on it (NAME-picture-N.png) in
// SCREENSHOT_DIR (for the 390 px pass: NAME-390.png, NAME-390-full.png), and ends with
// the line "N passed, M failed".
'use strict';

const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const [htmlDir, screenshotDir, projectDir, chromiumPath = '/usr/bin/chromium'] = process.argv.slice(2);
if (!htmlDir || !screenshotDir || !projectDir) {
  console.error('usage: node check_site.js HTML_DIR SCREENSHOT_DIR PROJECT_DIR [CHROMIUM]');
  process.exit(2);
}
const root = path.resolve(htmlDir);

// The flags of the brief: no sandbox (CI runs as root), no GPU, and nothing that talks to the network.
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'];

// Text that MathJax should have turned into typeset math, had it worked.
const RAW_TEX = ['\\f$', '\\f[', '\\f]', '\\frac', '$$', '\\sqrt', '\\mathrm', '\\text{', '\\operatorname',
  '\\left', '\\top', '\\cdot', '\\qquad', '\\(', '\\['];

// Lessons whose page must show a heatmap, a diagram, a snippet and the example's output.
const LESSONS_WITH_PICTURES = ['lesson01', 'lesson02', 'lesson03', 'lesson04'];

// Pictures the lessons' examples draw with the course's own code (src/io/heatmap.hpp,
// src/io/block_diagram.hpp) while the site is built: each must be on its page, be a file of
// the built site and of no folder of the project (nobody drew it by hand), and be the
// course's drawing (its root <svg> has the class the drawing function gives it).
const GENERATED_PICTURES = {
  lesson02: [{ file: 'lesson02-positional-encoding.svg', kind: 'mha-heatmap', signed: true }],
  lesson03: [{ file: 'lesson03-split-heads.svg', kind: 'mha-block-diagram', groups: 2 },
    { file: 'lesson03-packed-projection.svg', kind: 'mha-block-diagram', groups: 6 }],
  lesson04: [{ file: 'lesson04-concat-heads.svg', kind: 'mha-block-diagram', groups: 2 }],
};

// Lessons that show several heads in one picture: each such picture must have its switch
// between all heads and one (site_postprocess.py, mha_figures.js), and the switch must work.
const LESSONS_WITH_HEAD_SWITCH = ['lesson03', 'lesson04', 'lesson06'];

// A file of src/ named in a lesson's text (not workspace/src/...): it must be a link.
const SOURCE_FILE_NAME = /(?<![\w/.-])src\/[\w/-]+\.(?:cpp|hpp)\b/g;

// The widths every lesson page is checked at: a laptop's and a phone's.
const WIDE = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

// A heatmap may shrink to fit the page, but its smallest text (its numbers) no smaller than this.
const SMALLEST_FIGURE_TEXT_PX = 8.9;

// Searches that must find the lesson that teaches them: the first lesson listed, and among
// the first three results (the glossary's definition may come first).
const SEARCHES = [
  { query: 'positional', lesson: 'lesson02.html', within: 3 },
  { query: 'causal', lesson: 'lesson01.html', within: 3 },
  { query: 'online softmax', lesson: 'lesson05.html', within: 3 },
];

// The headings (## ...) and the number of tables of a generated Markdown file that a lesson
// page includes, such as lesson 5's benchmark_table.md: all must be on the page.
function includedTables(lessonDir) {
  const wanted = { headings: [], tables: 0 };
  for (const name of ['benchmark_table.md']) {
    const file = path.join(lessonDir, name);
    if (!fs.existsSync(file)) {
      continue;
    }
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    wanted.headings.push(...lines.filter((line) => /^#{2,} /.test(line)).map((line) => line.replace(/^#+ +/, '').replace(/\*\*|`/g, '').trim()));
    wanted.tables += lines.filter((line, i) => /^\|[- :|]+\|\s*$/.test(line) && i > 0 && lines[i - 1].startsWith('|')).length;
  }
  return wanted;
}

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.woff': 'font/woff', '.otf': 'font/otf', '.json': 'application/json', '.map': 'text/plain',
};

// ---- A tiny static server on 127.0.0.1, serving the site and nothing else ----
function serve() {
  const server = http.createServer((request, response) => {
    const urlPath = decodeURIComponent(new URL(request.url, 'http://127.0.0.1').pathname);
    const file = path.join(root, urlPath.endsWith('/') ? urlPath + 'index.html' : urlPath);
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      response.writeHead(404, { 'Content-Type': 'text/plain' });
      response.end('not found');
      return;
    }
    response.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' });
    fs.createReadStream(file).pipe(response);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// The pages to open: every lesson in order, then the others.
function pagesToCheck() {
  const lessons = fs.readdirSync(path.join(projectDir, 'lessons'))
    .filter((name) => /^\d\d-/.test(name) && fs.existsSync(path.join(projectDir, 'lessons', name, 'README.md')))
    .sort()
    .map((name) => `lesson${name.slice(0, 2)}.html`);
  return ['index.html', ...lessons, 'exercises.html', 'glossary.html', 'api.html', 'namespacemha.html',
    'attention_8hpp.html', 'heatmap_8hpp.html', 'structmha_1_1MultiHeadAttention.html',
    'sources.html', 'source_reference_attention_heads_cpp.html'];
}

// Does the site hold this file, and (for page#anchor) this anchor?
const fileTexts = new Map();
function checkTarget(origin, href) {
  const url = new URL(href);
  if (url.origin !== origin) {
    return null;  // a link to another site: not loaded, not checked
  }
  const file = path.join(root, decodeURIComponent(url.pathname));
  if (!file.startsWith(root + path.sep) || !fs.existsSync(file)) {
    return `missing file ${url.pathname}`;
  }
  const anchor = decodeURIComponent(url.hash.slice(1));
  if (anchor && file.endsWith('.html')) {
    if (!fileTexts.has(file)) {
      fileTexts.set(file, fs.readFileSync(file, 'utf8'));
    }
    const text = fileTexts.get(file);
    if (!text.includes(`id="${anchor}"`) && !text.includes(`name="${anchor}"`)) {
      return `missing anchor #${anchor} in ${url.pathname}`;
    }
  }
  return null;
}

// Collects what MathJax reports, from before it starts (MathJax 2 reads window.MathJax as its configuration).
function mathjaxHooks() {
  window.__mathjaxErrors = [];
  window.MathJax = {
    AuthorInit() {
      const hub = window.MathJax.Hub;
      hub.Register.MessageHook('TeX Jax - parse error', (message) => window.__mathjaxErrors.push(`TeX parse error: ${message[1]}`));
      hub.Register.MessageHook('Math Processing Error', (message) => window.__mathjaxErrors.push(`Math Processing Error: ${message[2] && message[2].message}`));
      hub.Register.MessageHook('file load error', (message) => window.__mathjaxErrors.push(`file load error: ${message[1]}`));
    },
  };
}

// In the page: visible text with raw TeX, MathJax's own error marks, and what the page holds.
async function inspectPage(rawTex) {
  const skip = (element) => element.closest('code, pre, script, style, textarea, .fragment, .MathJax, .MathJax_Display, .MathJax_Preview, #MSearchResultsWindow, #MSearchSelectWindow');
  const rawTexFound = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || skip(parent) || parent.getClientRects().length === 0) {
      continue;
    }
    const style = getComputedStyle(parent);
    if (style.visibility === 'hidden' || style.display === 'none') {
      continue;
    }
    for (const tex of rawTex) {
      if (node.textContent.includes(tex)) {
        rawTexFound.push(`"${tex}" in "${node.textContent.trim().slice(0, 80)}"`);
      }
    }
  }
  const loaded = async (element) => {
    if (element.tagName === 'IMG') {
      try {
        await element.decode();  // rejects when the file is missing or not an image
        return true;
      } catch (error) {
        return false;
      }
    }
    try {  // <object> and <iframe>: the SVG document inside
      const inner = element.contentDocument;
      return Boolean(inner && inner.documentElement && inner.documentElement.nodeName.toLowerCase() === 'svg');
    } catch (error) {
      return false;
    }
  };
  const embedded = [];
  for (const element of document.querySelectorAll('img[src], object[data], iframe[src]')) {
    const url = element.tagName === 'OBJECT' ? element.data : element.src;
    if (url.startsWith('javascript:')) {
      continue;  // the search box's empty results frame
    }
    embedded.push({
      tag: element.tagName.toLowerCase(),
      url,
      loaded: await loaded(element),
      // The lesson's pictures and diagrams must be on show, with a size.
      hidden: Boolean(element.closest('div.image, div.dotgraph')) && element.getBoundingClientRect().width === 0,
    });
  }
  // Elements that stick out of their container sideways. A box with overflow-x auto or
  // scroll (a formula, a code fragment, a heatmap's box) may hold wider content: it scrolls.
  const overflow = [];
  const contents = document.querySelector('div.contents');
  const docContent = document.getElementById('doc-content') || document.documentElement;
  const describe = (element) => {
    const classes = typeof element.className === 'string' && element.className ? `.${element.className.trim().split(/\s+/).join('.')}` : '';
    const text = (element.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 60);
    return `<${element.tagName.toLowerCase()}${classes}>${text ? ` "${text}"` : ''}`;
  };
  if (contents) {
    const pageRight = Math.min(docContent.getBoundingClientRect().left + docContent.clientWidth, window.innerWidth);
    if (docContent.scrollWidth > docContent.clientWidth + 1) {
      overflow.push(`the page scrolls sideways: ${docContent.scrollWidth} px of content in ${docContent.clientWidth} px`);
    }
    const reported = new Set();
    for (const element of contents.querySelectorAll('*')) {
      if (element.parentElement.closest('.MathJax, .MathJax_Preview, #mha-search') || reported.size >= 8) {
        continue;  // a formula is checked as a whole
      }
      const box = element.getBoundingClientRect();
      if (box.width === 0 || box.height === 0 || [...reported].some((outer) => outer.contains(element))) {
        continue;
      }
      let container = null;
      for (let up = element.parentElement; up && up !== contents; up = up.parentElement) {
        if (getComputedStyle(up).overflowX !== 'visible') {
          container = up;
          break;
        }
      }
      if (container) {
        const style = getComputedStyle(container).overflowX;
        if (style === 'auto' || style === 'scroll') {
          continue;  // scrolls inside its own box: allowed
        }
        const outer = container.getBoundingClientRect();
        if (box.right > outer.right + 1 || box.left < outer.left - 1) {
          reported.add(element);
          overflow.push(`${describe(element)} is cut off by ${describe(container)} (overflow-x: ${style}): ` +
            `${Math.round(box.right - outer.right)} px hidden`);
        }
      } else if (box.right > pageRight + 1) {
        reported.add(element);
        overflow.push(`${describe(element)} sticks out of the page by ${Math.round(box.right - pageRight)} px`);
      }
    }
    // On a wide screen every display formula fits its column: none needs its scroll bar
    // (lesson 4's MultiHead equation was cut off at 1280 px).
    if (window.innerWidth >= 1000) {
      for (const formula of contents.querySelectorAll('div.MathJax_Display')) {
        if (formula.scrollWidth > formula.clientWidth + 1) {
          overflow.push(`the formula ${describe(formula)} is ${formula.scrollWidth} px wide, its column ` +
            `${formula.clientWidth} px: it must fit on a wide screen`);
        }
      }
    }
    // A frame that cannot scroll and holds a wider picture (Doxygen's diagram iframes).
    for (const frame of contents.querySelectorAll('iframe, object')) {
      let inner = null;
      try {
        inner = frame.contentDocument && frame.contentDocument.documentElement;
      } catch (error) {
        inner = null;
      }
      if (!inner) {
        continue;
      }
      const shown = frame.getBoundingClientRect();
      const drawn = inner.getBoundingClientRect();
      if (frame.tagName === 'IFRAME' && drawn.width > shown.width + 1) {
        overflow.push(`${describe(frame)} ${frame.src}: its picture is ${Math.round(drawn.width)} px wide, ` +
          `its frame ${Math.round(shown.width)} px: cut off`);
      }
      // A heatmap: how small its smallest text is drawn.
      if (frame.tagName === 'OBJECT' && inner.nodeName.toLowerCase() === 'svg' && inner.width.baseVal.value > 0) {
        const scale = shown.width / inner.width.baseVal.value;
        const sizes = [...inner.querySelectorAll('text')].map((text) => parseFloat(text.getAttribute('font-size'))).filter((size) => size > 0);
        if (sizes.length > 0 && Math.min(...sizes) * scale < window.SMALLEST_FIGURE_TEXT_PX) {
          overflow.push(`${frame.data.replace(/^.*\//, '')}: its smallest text is drawn at ` +
            `${(Math.min(...sizes) * scale).toFixed(1)} px (shrunk to ${Math.round(100 * scale)} %)`);
        }
      }
    }
  }
  // Every picture's SVG: its class, and its heatmap cells with their hover titles and numbers.
  const svgs = [];
  for (const object of document.querySelectorAll('div.image object')) {
    let inner = null;
    try {
      inner = object.contentDocument && object.contentDocument.documentElement;
    } catch (error) {
      inner = null;
    }
    if (!inner || inner.nodeName.toLowerCase() !== 'svg') {
      continue;
    }
    const heatmapCells = [...inner.querySelectorAll('g.cell')];
    const gridCells = [...inner.querySelectorAll('.mha-heatmap rect[stroke="#d0d0d0"]')];  // every drawn cell square
    svgs.push({
      file: object.data.replace(/^.*\//, ''),
      className: inner.getAttribute('class') || '',
      nestedHeatmaps: inner.querySelectorAll('svg.mha-heatmap').length,
      cells: gridCells.length,
      titledCells: heatmapCells.map((cell) => ({
        title: (cell.querySelector('title') || {}).textContent || '',
        text: (cell.querySelector('text') || {}).textContent || null,
        hasSquare: Boolean(cell.querySelector('rect')),
        fill: (cell.querySelector('rect') || { getAttribute: () => '' }).getAttribute('fill'),
      })),
      blocks: [...inner.querySelectorAll('g.block')].map((block) => ({
        title: (block.querySelector('title') || {}).textContent || '',
        fill: block.querySelector('rect').getAttribute('fill'),
      })),
      legend: [...inner.querySelectorAll('rect.legend')].map((swatch) => swatch.getAttribute('fill')),
      switchButtons: object.parentElement.querySelectorAll('.mha-panel-switch button').length,
    });
  }
  // Names of src/ files in the text (outside code fragments): each must sit inside a link.
  const sourceNames = [];
  const textWalker = document.createTreeWalker(document.querySelector('div.contents') || document.body, NodeFilter.SHOW_TEXT);
  for (let node = textWalker.nextNode(); node; node = textWalker.nextNode()) {
    if (!node.parentElement || node.parentElement.closest('div.fragment, pre, script, style, div.toc')) {
      continue;
    }
    for (const name of node.textContent.match(window.SOURCE_FILE_NAME) || []) {
      const link = node.parentElement.closest('a[href]');
      sourceNames.push({ name, href: link ? link.href : null });
    }
  }
  const toc = document.querySelectorAll('div.contents > div.toc a[href^="#"]').length;
  const headings = [...document.querySelectorAll('div.contents h1, div.contents h2, div.contents h3, div.contents h4')]
    .map((heading) => heading.textContent.replace(/\s+/g, ' ').trim());
  return {
    overflow,
    svgs,
    sourceNames,
    toc,
    headings,
    tables: document.querySelectorAll('div.contents table').length,
    rawTex: rawTexFound,
    mathjaxErrors: [...window.__mathjaxErrors,
      ...[...document.querySelectorAll('.merror, .MathJax_Error')].map((element) => `error mark: ${element.textContent}`)],
    formulas: window.MathJax && window.MathJax.Hub ? window.MathJax.Hub.getAllJax().length : -1,
    links: [...document.querySelectorAll('a[href]')].map((a) => a.href).filter((href) => /^https?:/.test(href)),
    embedded,
    counts: {
      pictures: document.querySelectorAll('div.image object, div.image img').length,
      diagrams: document.querySelectorAll('div.dotgraph iframe, div.dotgraph img').length,
      snippets: document.querySelectorAll('div.contents div.fragment').length,
      outputs: document.querySelectorAll('details.mha-output pre').length,
      lessonNavigation: document.querySelectorAll('div.mha-lesson-nav a').length,
    },
  };
}

// The heatmaps can be read (every cell's hover title names its query word, key word and
// weight, and agrees with the percentage printed in it), and the pictures drawn by the
// course's code are there (GENERATED_PICTURES).
function checkPictures(lesson, svgs) {
  const problems = [];
  for (const svg of svgs) {
    if (svg.cells === 0) {
      continue;  // not a heatmap
    }
    const titled = svg.titledCells.filter((cell) => cell.hasSquare && cell.title);
    if (titled.length !== svg.cells) {
      problems.push(`${svg.file}: ${titled.length} of its ${svg.cells} heatmap cells have a hover title`);
      continue;
    }
    for (const cell of titled) {
      const weight = cell.title.match(/^query \u201c.+\u201d \u2192 key \u201c.+\u201d: weight (-?[\d.e-]+)$/);
      const value = cell.title.match(/^.+, .+: (-?[\d.e-]+)$/);
      if (cell.text !== null && (!weight || Math.round(100 * Number(weight[1])) !== Number(cell.text))) {
        problems.push(`${svg.file}: a cell shows ${cell.text} but its hover title says "${cell.title}" ` +
          '(expected: query \u201cword\u201d \u2192 key \u201cword\u201d: weight w, with w in percent the number shown)');
        break;
      }
      if (cell.text === null && !value) {
        problems.push(`${svg.file}: the hover title "${cell.title}" gives no row, column and value`);
        break;
      }
    }
  }
  for (const wanted of GENERATED_PICTURES[lesson] || []) {
    const svg = svgs.find((item) => item.file === wanted.file);
    if (!svg) {
      problems.push(`the picture ${wanted.file}, drawn by the lesson's example, is not on the page`);
      continue;
    }
    const committed = ['lessons', 'docs', 'src'].map((folder) => findFile(path.join(projectDir, folder), wanted.file)).find(Boolean);
    if (committed) {
      problems.push(`${wanted.file} is a file of the project (${path.relative(projectDir, committed)}): ` +
        'it must be drawn by the example while the site is built, not committed');
    }
    if (!svg.className.split(/\s+/).includes(wanted.kind)) {
      problems.push(`${wanted.file} was not drawn by the course's code: its <svg> has class "${svg.className}", ` +
        `not ${wanted.kind}`);
    }
    if (wanted.groups) {
      const colours = new Set(svg.blocks.map((block) => block.fill));
      const untitled = svg.blocks.filter((block) => !/, row \d+, column \d+: /.test(block.title)).length;
      if (svg.legend.length !== wanted.groups || colours.size !== wanted.groups || untitled > 0) {
        problems.push(`${wanted.file}: ${svg.blocks.length} blocks in ${colours.size} colours, a legend of ` +
          `${svg.legend.length}, ${untitled} blocks without a hover title (expected ${wanted.groups} colours, ` +
          'one per head or projection)');
      }
    }
    if (wanted.signed) {
      const values = svg.titledCells.map((cell) => Number((cell.title.match(/: (-?[\d.e-]+)$/) || [])[1]));
      if (!(Math.min(...values) < -0.5 && Math.max(...values) > 0.5)) {
        problems.push(`${wanted.file}: expected values on both sides of 0 (sines and cosines), found ` +
          `${Math.min(...values)} to ${Math.max(...values)}`);
      }
    }
  }
  return problems;
}

// A file somewhere under `folder` (not in build folders or node_modules), or null.
function findFile(folder, name) {
  if (!fs.existsSync(folder)) {
    return null;
  }
  for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory() && !['build', 'node_modules', '.git'].includes(entry.name)) {
      const found = findFile(full, name);
      if (found) {
        return found;
      }
    } else if (entry.name === name) {
      return full;
    }
  }
  return null;
}

// Every src/ file a lesson names is a link to a page of the site that shows it.
function checkSourceLinks(origin, sourceNames) {
  const problems = [];
  const reported = new Set();
  for (const { name, href } of sourceNames) {
    if (reported.has(name)) {
      continue;
    }
    if (!href) {
      reported.add(name);
      problems.push(`${name} is named but is not a link to its page`);
      continue;
    }
    const problem = checkTarget(origin, href);
    const file = path.join(root, decodeURIComponent(new URL(href).pathname));
    const base = path.basename(name);
    if (problem || !fs.readFileSync(file, 'utf8').includes(base)) {
      reported.add(name);
      problems.push(`${name} links to ${href.replace(origin, '')}, which ${problem || `does not mention ${base}`}`);
    }
  }
  return problems;
}

// On a phone, which shows no hover titles: a tap on a heatmap's cell writes its title (query
// word, key word, weight) under the picture (mha_figures.js).
async function checkTap(page) {
  let cell = null;
  for (const frame of page.frames().filter((item) => /\.svg$/.test(item.url()) && item !== page.mainFrame())) {
    cell = cell || await frame.$('g.cell');  // the first heatmap's first cell
  }
  if (!cell) {
    return ['no heatmap cell to tap on the page'];
  }
  const title = await cell.evaluate((element) => element.querySelector('title').textContent);
  await cell.dispatchEvent('click');
  const shown = await page.evaluate(() => [...document.querySelectorAll('.mha-cell-readout')].map((line) => line.textContent));
  return shown.includes(title) ? [] : [`a tap on a heatmap cell ("${title}") did not show its title under the picture: ${JSON.stringify(shown)}`];
}

// The switch before a picture of several heads: a head's button shows that head alone (a
// picture of its own, narrower, with one heatmap), "All heads" brings every head back.
async function checkHeadSwitch(page, svgs) {
  const problems = [];
  const withSwitch = svgs.filter((svg) => svg.nestedHeatmaps > 1 && svg.switchButtons > 1);
  if (withSwitch.length === 0) {
    return ['no picture of several heads has a switch between all heads and one (span.mha-panel-switch)'];
  }
  const state = () => page.evaluate(() => {
    const group = document.querySelector('.mha-panel-switch');
    const object = group.parentElement.querySelector('object');
    const inner = object.contentDocument && object.contentDocument.documentElement;
    return {
      data: object.getAttribute('data'),
      width: object.getBoundingClientRect().width,
      heatmaps: inner ? inner.querySelectorAll('svg.mha-heatmap').length + (inner.classList.contains('mha-heatmap') ? 1 : 0) : -1,
      pressed: [...group.querySelectorAll('button')].map((button) => button.getAttribute('aria-pressed')),
    };
  });
  const loaded = () => page.waitForFunction(() => {
    const object = document.querySelector('.mha-panel-switch').parentElement.querySelector('object');
    return object.contentDocument && object.contentDocument.readyState === 'complete' && object.contentDocument.documentElement.nodeName.toLowerCase() === 'svg';
  }, null, { timeout: 10000 });
  const all = await state();
  await page.click('.mha-panel-switch button:nth-of-type(2)');
  await loaded();
  const one = await state();
  if (!/\.panel-1\.svg$/.test(one.data) || one.heatmaps !== 1 || one.pressed[1] !== 'true' || one.width >= all.width) {
    problems.push(`the head switch: its second button showed ${one.data} with ${one.heatmaps} heatmap(s), ` +
      `${Math.round(one.width)} px wide (all heads: ${all.data}, ${all.heatmaps}, ${Math.round(all.width)} px); ` +
      'expected the first head alone, narrower');
  }
  await page.click('.mha-panel-switch button:nth-of-type(1)');
  await loaded();
  const back = await state();
  if (back.data !== all.data || back.heatmaps !== all.heatmaps || back.pressed[0] !== 'true') {
    problems.push(`the head switch: "All heads" showed ${back.data} with ${back.heatmaps} heatmaps, not ${all.data}`);
  }
  return problems;
}

// What each open page loaded from outside the site (filled in by the context's route).
const outsideOf = new WeakMap();
const outsideOfNoPage = new Set();

async function checkPage(context, origin, name, viewport) {
  const problems = [];
  const page = await context.newPage();
  outsideOf.set(page, new Set());
  await page.setViewportSize(viewport);
  const phone = viewport.width < 800;
  page.on('pageerror', (error) => problems.push(`JavaScript error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on('requestfailed', (request) => {
    if (!request.url().startsWith(origin)) {
      return;  // already reported as outside the site
    }
    problems.push(`failed to load ${request.url()}: ${request.failure() && request.failure().errorText}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) {
      problems.push(`HTTP ${response.status()} for ${response.url()}`);
    }
  });

  await page.goto(`${origin}/${name}`, { waitUntil: 'load', timeout: 30000 });
  // MathJax 2: wait until it has typeset everything in its queue.
  await page.waitForFunction(() => window.MathJax && window.MathJax.isReady, null, { timeout: 30000 });
  await page.evaluate(() => new Promise((resolve) => window.MathJax.Hub.Queue(resolve)));
  await page.waitForLoadState('networkidle', { timeout: 30000 });

  await page.evaluate(([px, sourceName]) => {
    window.SMALLEST_FIGURE_TEXT_PX = px;
    window.SOURCE_FILE_NAME = new RegExp(sourceName, 'g');
  }, [SMALLEST_FIGURE_TEXT_PX, SOURCE_FILE_NAME.source]);
  const seen = await page.evaluate(inspectPage, RAW_TEX);
  for (const tex of seen.rawTex) {
    problems.push(`raw TeX on the page: ${tex}`);
  }
  for (const error of seen.mathjaxErrors) {
    problems.push(`MathJax: ${error}`);
  }
  const broken = new Set();
  for (const href of seen.links) {
    const problem = checkTarget(origin, href);
    if (problem && !broken.has(problem)) {
      broken.add(problem);
      problems.push(`broken link ${href.replace(origin, '')}: ${problem}`);
    }
  }
  for (const item of seen.embedded) {
    const problem = item.url.startsWith(origin) ? checkTarget(origin, item.url) : `outside the site: ${item.url}`;
    if (problem) {
      problems.push(`<${item.tag}> ${item.url.replace(origin, '')}: ${problem}`);
    } else if (!item.loaded) {
      problems.push(`<${item.tag}> ${item.url.replace(origin, '')} did not load`);
    } else if (item.hidden) {
      problems.push(`<${item.tag}> ${item.url.replace(origin, '')} is not shown (no width)`);
    }
  }
  const lesson = name.replace(/\.html$/, '');
  const isLesson = /^lesson\d\d$/.test(lesson);
  if (isLesson) {
    for (const problem of seen.overflow) {
      problems.push(`at ${viewport.width} px: ${problem}`);
    }
    if (seen.toc < 3) {
      problems.push(`the lesson page has no table of contents (div.contents > div.toc with links to its sections)`);
    }
    const folder = fs.readdirSync(path.join(projectDir, 'lessons')).find((entry) => entry.startsWith(lesson.slice(6) + '-'));
    const wanted = includedTables(path.join(projectDir, 'lessons', folder));
    for (const heading of wanted.headings) {
      if (!seen.headings.includes(heading)) {
        problems.push(`the heading "${heading}" of its benchmark_table.md is not on the page`);
      }
    }
    if (seen.tables < wanted.tables) {
      problems.push(`the page has ${seen.tables} tables; its benchmark_table.md alone has ${wanted.tables}`);
    }
  }
  const counts = seen.counts;
  if (LESSONS_WITH_PICTURES.includes(lesson)) {
    for (const [what, count] of Object.entries(counts)) {
      if (count === 0) {
        problems.push(`the lesson page has no ${what} (expected: heatmap pictures, a diagram, code snippets, ` +
          `the example's output and links to the other lessons)`);
      }
    }
  } else if (/^lesson\d\d$/.test(lesson) && counts.lessonNavigation === 0) {
    problems.push('the lesson page has no link to the previous and next lesson');
  }

  if (isLesson) {
    problems.push(...checkPictures(lesson, seen.svgs));
    problems.push(...checkSourceLinks(origin, seen.sourceNames));
    if (!phone && LESSONS_WITH_HEAD_SWITCH.includes(lesson)) {
      problems.push(...await checkHeadSwitch(page, seen.svgs));
    }
    if (phone && LESSONS_WITH_PICTURES.includes(lesson)) {
      problems.push(...await checkTap(page));
    }
  }

  if (name === 'index.html' && !phone) {  // the sidebar, on the main page (before the screenshots hide it)
    const tree = await page.evaluate(() => [...document.querySelectorAll('#nav-tree .label')].slice(0, 12).map((label) => {
      const item = label.closest('.item');
      const box = label.getBoundingClientRect();
      const side = document.getElementById('nav-tree').getBoundingClientRect();
      const link = label.querySelector('a[href]') || label.closest('a[href]');
      return {
        text: label.textContent.trim(),
        page: link ? link.href.split('#')[0] : null,
        shown: box.width > 0 && box.height > 0,
        cut: box.width > 0 && box.right > side.right + 1,
        tall: item.getBoundingClientRect().height,
      };
    }));
    for (const entry of tree.filter((item) => item.cut)) {
      problems.push(`the sidebar cuts off "${entry.text}"`);
    }
    const shown = tree.filter((entry) => entry.shown);
    const names = shown.map((entry) => entry.text.toLowerCase());
    if (names.length > 1 && (names[1].startsWith(names[0]) || names[0].startsWith(names[1]))) {
      problems.push(`the sidebar's two top entries are near-identical: "${shown[0].text}", "${shown[1].text}"`);
    }
    // One entry per page: the main page (the tree's root) must not come again as its first child.
    for (let i = 0; i < shown.length; ++i) {
      const again = shown.slice(i + 1).find((entry) => entry.page && entry.page === shown[i].page);
      if (again) {
        problems.push(`the sidebar lists ${shown[i].page.replace(/^.*\//, '')} twice: "${shown[i].text}" and "${again.text}"`);
        break;
      }
    }
  }
  // Screenshots: the first screen; then, with the page grown to its full length (Doxygen's
  // page scrolls inside #doc-content), every picture and diagram, and the whole page.
  const base = path.join(screenshotDir, phone ? `${lesson}-${viewport.width}` : lesson);
  await page.screenshot({ path: `${base}.png`, timeout: 120000 });
  await page.addStyleTag({ content: 'html, body, #doc-content { height: auto !important; overflow: visible !important; }' +
    ' #side-nav, #top, #nav-path { display: none !important; } #doc-content { margin-left: 0 !important; }' });
  const pictures = phone ? [] : await page.$$('div.image, div.dotgraph');
  for (let i = 0; i < pictures.length; ++i) {
    await pictures[i].screenshot({ path: `${base}-picture-${i + 1}.png`, timeout: 120000 });
  }
  // The whole page only for the lessons: the API reference (namespacemha.html) is tens of
  // thousands of pixels long, and its full screenshot took over 30 s on a busy machine.
  if (isLesson) {
    await page.screenshot({ path: `${base}-full.png`, fullPage: true, timeout: 120000 });
  }
  for (const url of outsideOf.get(page)) {
    problems.push(`loads something from outside the site: ${url}`);
  }
  await page.close();

  const summary = `${viewport.width} px: ${seen.formulas} formulas, ${seen.links.length} links, ${seen.embedded.length} pictures`;
  return { problems, summary };
}

// The search box, on the main page opened from file:// (as a reader who downloaded the site
// would): each query of SEARCHES must list its lesson among the first results.
async function checkSearch(context) {
  const problems = [];
  const page = await context.newPage();
  outsideOf.set(page, new Set());
  page.on('pageerror', (error) => problems.push(`JavaScript error: ${error.message}`));
  await page.goto(`file://${path.join(root, 'index.html')}`, { waitUntil: 'load', timeout: 30000 });
  const found = [];
  for (const { query, lesson, within } of SEARCHES) {
    await page.fill('#mha-search-field', query);
    const results = await page.$$eval('#mha-search-results li a', (links) => links.map((a) => a.getAttribute('href')));
    const hidden = await page.$$eval('#mha-search-results li a', (links) => links.slice(0, 3).filter((a) => {
      const box = a.getBoundingClientRect();  // on show, not covered or clipped
      const top = document.elementFromPoint(box.left + Math.min(20, box.width / 2), box.top + box.height / 2);
      return !top || !a.contains(top);
    }).length);
    if (hidden > 0) {
      problems.push(`searching "${query}": ${hidden} of the first results are not visible on the page`);
    }
    const pages = results.map((href) => href.split('#')[0]);
    found.push(`"${query}": ${pages.slice(0, 3).join(', ') || 'nothing'}`);
    const firstLesson = pages.find((page) => /^lesson\d\d\.html$/.test(page));
    if (!pages.slice(0, within).includes(lesson) || firstLesson !== lesson) {
      problems.push(`searching "${query}" does not list ${lesson} among its first ${within} result(s): ` +
        `${pages.slice(0, 5).join(', ') || 'nothing found'} (it must be the first lesson listed)`);
    }
  }
  await page.screenshot({ path: path.join(screenshotDir, 'search.png'), timeout: 120000 });
  for (const url of outsideOf.get(page)) {
    problems.push(`loads something from outside the site: ${url}`);
  }
  await page.close();
  return { problems, summary: `from file://, ${found.join('; ')}` };
}

async function main() {
  fs.mkdirSync(screenshotDir, { recursive: true });
  for (const old of fs.readdirSync(screenshotDir).filter((file) => file.endsWith('.png'))) {
    fs.unlinkSync(path.join(screenshotDir, old));
  }
  const server = await serve();
  const origin = `http://127.0.0.1:${server.address().port}`;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mha-docs-chromium-'));  // a fresh user-data-dir
  let context;
  let passed = 0;
  let failed = 0;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1280, height: 900 },
      offline: false,
    });
    // Nothing may be loaded from outside the site: such requests are recorded and refused.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(origin + '/') || url.startsWith(`file://${root}/`) || url.startsWith('data:') || url.startsWith('blob:') || url === 'about:blank') {
        return route.continue();
      }
      let pageOfRequest = null;
      try {
        pageOfRequest = route.request().frame().page();
      } catch (error) {
        pageOfRequest = null;
      }
      (outsideOf.get(pageOfRequest) || outsideOfNoPage).add(url);
      return route.abort('blockedbyclient');
    });
    await context.addInitScript(mathjaxHooks);

    // MHA_SITE_PAGES="lesson06.html search", say, checks only those (while working on them).
    const only = (process.env.MHA_SITE_PAGES || '').split(/\s+/).filter(Boolean);
    let runs = pagesToCheck().map((name) => [name, WIDE]);
    runs.push(...runs.filter(([name]) => /^lesson\d\d\.html$/.test(name)).map(([name]) => [name, PHONE]));
    runs.push(['search', null]);
    if (only.length > 0) {
      runs = runs.filter(([name]) => only.includes(name));
    }
    // Two pages at a time (MHA_SITE_JOBS), for the two cores of a CI machine; reported in order.
    const jobs = Math.max(1, Number(process.env.MHA_SITE_JOBS) || 2);
    const results = new Array(runs.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < runs.length; i = next++) {
        const [name, viewport] = runs[i];
        try {
          results[i] = viewport ? await checkPage(context, origin, name, viewport) : await checkSearch(context);
        } catch (error) {
          results[i] = { problems: [`could not be checked: ${error.message}`], summary: '' };
        }
      }
    };
    await Promise.all(Array.from({ length: jobs }, worker));
    if (outsideOfNoPage.size > 0) {
      results.push({ problems: [...outsideOfNoPage].map((url) => `loads something from outside the site: ${url}`), summary: '' });
      runs.push(['(no page)', null]);
    }
    for (let i = 0; i < runs.length; ++i) {
      const [name, viewport] = runs[i];
      const result = results[i];
      if (result.problems.length === 0) {
        ++passed;
        console.log(`ok    ${name} (${result.summary})`);
      } else {
        ++failed;
        console.log(`FAIL  ${name}${viewport ? ` at ${viewport.width} px` : ''}`);
        for (const problem of result.problems) {
          console.log(`        ${problem}`);
        }
      }
    }
  } finally {
    if (context) {
      await context.close();
    }
    server.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log(`Screenshots: ${path.resolve(screenshotDir)}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
