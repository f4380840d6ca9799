#!/usr/bin/env node
// The course website as a reader sees it (ctest -L docs; tests/docs/site_test.cmake runs it).
//
//   node check_site.js HTML_DIR SCREENSHOT_DIR PROJECT_DIR [CHROMIUM]
//
// Serves HTML_DIR (the built site) on 127.0.0.1, opens the main page, every lesson
// page (one per lessons/NN-*/README.md of PROJECT_DIR), the exercises page, the
// glossary, the API index and a few API pages in Debian's headless Chromium
// (/usr/bin/chromium, driven by playwright-core, which downloads no browser), and
// fails when a page
//   - has a JavaScript error (an uncaught exception or a console error),
//   - loads anything from outside the site, or anything that fails to load,
//   - links to a page or an anchor of the site that does not exist,
//   - has an image, an <object> or an <iframe> whose file is missing or did not load,
//   - shows raw TeX (\f$, \frac, $$, \sqrt, ...) outside code once MathJax is done,
//     or MathJax reported an error,
//   - is a lesson page (lessons 1-4) without its figure, diagram, code snippet,
//     the example's output and the link to the next lesson.
// It saves a screenshot of each page's first screen (NAME.png), of the whole page
// (NAME-full.png), and of every picture and diagram on it (NAME-picture-N.png) in
// SCREENSHOT_DIR, and ends with the line "N passed, M failed".
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
    'attention_8hpp.html', 'heatmap_8hpp.html', 'structmha_1_1MultiHeadAttention.html'];
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
  return {
    rawTex: rawTexFound,
    mathjaxErrors: [...window.__mathjaxErrors,
      ...[...document.querySelectorAll('.merror, .MathJax_Error')].map((element) => `error mark: ${element.textContent}`)],
    formulas: window.MathJax && window.MathJax.Hub ? window.MathJax.Hub.getAllJax().length : -1,
    links: [...document.querySelectorAll('a[href]')].map((a) => a.href).filter((href) => /^https?:/.test(href)),
    embedded,
    counts: {
      pictures: document.querySelectorAll('div.image object, div.image img').length,
      diagrams: document.querySelectorAll('div.dotgraph iframe').length,
      snippets: document.querySelectorAll('div.contents div.fragment').length,
      outputs: document.querySelectorAll('details.mha-output pre').length,
      lessonNavigation: document.querySelectorAll('div.mha-lesson-nav a').length,
    },
  };
}

async function checkPage(context, origin, name) {
  const problems = [];
  const page = await context.newPage();
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

  // Screenshots: the first screen; then, with the page grown to its full length (Doxygen's
  // page scrolls inside #doc-content), every picture and diagram, and the whole page.
  const base = path.join(screenshotDir, lesson);
  await page.screenshot({ path: `${base}.png`, timeout: 120000 });
  await page.addStyleTag({ content: 'html, body, #doc-content { height: auto !important; overflow: visible !important; }' +
    ' #side-nav, #top, #nav-path { display: none !important; } #doc-content { margin-left: 0 !important; }' });
  const pictures = await page.$$('div.image, div.dotgraph');
  for (let i = 0; i < pictures.length; ++i) {
    await pictures[i].screenshot({ path: `${base}-picture-${i + 1}.png`, timeout: 120000 });
  }
  // The whole page only for the lessons: the API reference (namespacemha.html) is tens of
  // thousands of pixels long, and its full screenshot took over 30 s on a busy machine.
  if (/^lesson\d\d$/.test(lesson)) {
    await page.screenshot({ path: `${base}-full.png`, fullPage: true, timeout: 120000 });
  }
  await page.close();

  const summary = `${seen.formulas} formulas, ${seen.links.length} links, ${seen.embedded.length} pictures`;
  return { problems, summary };
}

async function main() {
  fs.mkdirSync(screenshotDir, { recursive: true });
  for (const old of fs.readdirSync(screenshotDir).filter((file) => file.endsWith('.png'))) {
    fs.unlinkSync(path.join(screenshotDir, old));
  }
  const server = await serve();
  const origin = `http://127.0.0.1:${server.address().port}`;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mha-docs-chromium-'));  // a fresh user-data-dir
  const outside = new Set();
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
      if (url.startsWith(origin + '/') || url.startsWith('data:') || url.startsWith('blob:') || url === 'about:blank') {
        return route.continue();
      }
      outside.add(url);
      return route.abort('blockedbyclient');
    });
    await context.addInitScript(mathjaxHooks);

    for (const name of pagesToCheck()) {
      outside.clear();
      let result;
      try {
        result = await checkPage(context, origin, name);
      } catch (error) {
        result = { problems: [`could not be checked: ${error.message}`], summary: '' };
      }
      for (const url of outside) {
        result.problems.push(`loads something from outside the site: ${url}`);
      }
      if (result.problems.length === 0) {
        ++passed;
        console.log(`ok    ${name} (${result.summary})`);
      } else {
        ++failed;
        console.log(`FAIL  ${name}`);
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
