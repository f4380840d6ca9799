// The course site's full-text search (copied into html/ by HTML_EXTRA_FILES; header.html
// loads it on every page, after mha_search_index.js, which docs/site_postprocess.py
// generates when the site is built). Everything happens in the page: no server, no
// network, so it works from file:// too.
//
// A section (the text under one heading of a page) matches when it contains every word
// of the query, as a word or the start of one. Sections are ranked by BM25 (the words'
// counts, relative to the section's length and to how rare each word is), with extra
// weight for the words in its heading, in bold or italics in its text (the terms a
// section defines), and for the whole query as a phrase. The lessons and
// the course's pages come first, the API reference after them.
'use strict';

const MhaSearch = {
  maxResults: 12,

  normalise(text) {
    return text.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
  },

  // The sections for a query, best first: [{entry, score, where}].
  search(query) {
    const index = window.MHA_SEARCH_INDEX || [];
    const phrase = MhaSearch.normalise(query).replace(/\s+/g, ' ').trim();
    const words = phrase.split(' ').filter((word) => word.length > 0);
    if (words.length === 0) {
      return [];
    }
    const startsWord = (text, word) => {
      for (let at = text.indexOf(word); at >= 0; at = text.indexOf(word, at + 1)) {
        if (at === 0 || !/[a-z0-9_]/.test(text[at - 1])) {
          return at;
        }
      }
      return -1;
    };
    const count = (text, word) => {
      let n = 0;
      for (let at = text.indexOf(word); at >= 0 && n < 20; at = text.indexOf(word, at + 1)) {
        ++n;
      }
      return n;
    };
    // BM25 over the sections: a word counts more in a short section than in a long one,
    // and a rare word more than a common one; the heading counts most.
    if (!MhaSearch.prepared) {
      let total = 0;
      for (const entry of index) {
        entry.n = MhaSearch.normalise(entry.x);
        entry.nh = MhaSearch.normalise(`${entry.t} ${entry.h}`);
        entry.nk = MhaSearch.normalise(entry.k || '');
        total += entry.n.length;
      }
      MhaSearch.averageLength = Math.max(1, total / Math.max(1, index.length));
      MhaSearch.prepared = true;
    }
    const matches = index.filter((entry) => words.every((word) => startsWord(`${entry.nh} ${entry.n}`, word) >= 0));
    const idf = {};
    for (const word of words) {
      const having = index.filter((entry) => startsWord(entry.n, word) >= 0 || startsWord(entry.nh, word) >= 0).length;
      idf[word] = Math.log(1 + (index.length - having + 0.5) / (having + 0.5));
    }
    const found = [];
    for (const entry of matches) {
      const norm = 1.2 * (0.25 + 0.75 * entry.n.length / MhaSearch.averageLength);
      let score = 0;
      for (const word of words) {
        const tf = count(entry.n, word);
        score += idf[word] * ((tf * 2.2) / (tf + norm) + (startsWord(entry.nh, word) >= 0 ? 1.5 : 0) +
                              (startsWord(entry.nk, word) >= 0 ? 1 : 0));
      }
      if (words.length > 1) {
        const tf = count(entry.n, phrase);
        score += 2 * ((tf * 2.2) / (tf + norm)) + (entry.nh.includes(phrase) ? 3 : 0);
      }
      const where = words.length > 1 && entry.n.includes(phrase) ? entry.n.indexOf(phrase) : startsWord(entry.n, words[0]);
      found.push({ entry, score, where });
    }
    // The course's text first (lessons and pages), then the API reference; at most two
    // sections of one page, so that one long page does not hide the others.
    const api = (entry) => (/^(lesson\d\d|index|exercises|glossary|api)\.html$/.test(entry.p) ? 0 : 1);
    found.sort((a, b) => api(a.entry) - api(b.entry) || b.score - a.score);
    const perPage = {};
    return found.filter(({ entry }) => (perPage[entry.p] = (perPage[entry.p] || 0) + 1) <= 2);
  },

  escape(text) {
    return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
  },

  // A few words of the section around the match, the query's words marked.
  snippet(entry, where, words) {
    const text = entry.x;
    const start = Math.max(0, (where < 0 ? 0 : where) - 60);
    let piece = text.slice(start, start + 180);
    piece = (start > 0 ? '…' : '') + piece + (start + 180 < text.length ? '…' : '');
    let out = MhaSearch.escape(piece);
    for (const word of words) {
      if (word.length > 1) {
        const pattern = new RegExp(`(${word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')})`, 'gi');
        out = out.replace(pattern, '<mark>$1</mark>');
      }
    }
    return out;
  },

  show(query) {
    const box = document.getElementById('mha-search-results');
    if (!box) {
      return;
    }
    if (!query.trim()) {
      box.hidden = true;
      box.innerHTML = '';
      return;
    }
    const words = MhaSearch.normalise(query).split(/\s+/).filter(Boolean);
    const results = MhaSearch.search(query);
    const shown = results.slice(0, MhaSearch.maxResults);
    let listing = shown.map(({ entry, where }) => {
      const href = entry.p + (entry.a ? `#${entry.a}` : '');
      const heading = entry.h ? ` › ${MhaSearch.escape(entry.h)}` : '';
      return `<li><a href="${href}"><span class="mha-search-where">${MhaSearch.escape(entry.t)}${heading}</span>` +
        `<span class="mha-search-snippet">${MhaSearch.snippet(entry, where, words)}</span></a></li>`;
    }).join('');
    if (shown.length === 0) {
      listing = '<li class="mha-search-none">Nothing found in the lessons and pages.</li>';
    }
    const more = results.length > shown.length ? ` (the first ${shown.length})` : '';
    box.innerHTML = `<div class="mha-search-count">${results.length} section${results.length === 1 ? '' : 's'} found${more}</div><ul>${listing}</ul>`;
    // Fixed to the window, under the box: the title area that holds the box clips what
    // overflows it, and on a wide screen it is only as wide as the sidebar.
    const field = document.getElementById('mha-search-field').getBoundingClientRect();
    const width = Math.min(560, window.innerWidth - 16);
    box.style.top = `${Math.round(field.bottom + 4)}px`;
    box.style.left = `${Math.round(Math.max(8, Math.min(field.left, window.innerWidth - width - 8)))}px`;
    box.style.width = `${width}px`;
    box.hidden = false;
  },

  init() {
    const field = document.getElementById('mha-search-field');
    const box = document.getElementById('mha-search-results');
    if (!field || !box) {
      return;
    }
    field.addEventListener('input', () => MhaSearch.show(field.value));
    field.addEventListener('focus', () => MhaSearch.show(field.value));
    field.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        field.value = '';
        MhaSearch.show('');
      } else if (event.key === 'Enter') {
        const first = box.querySelector('a');
        if (first) {
          window.location.href = first.href;
        }
      }
    });
    document.addEventListener('click', (event) => {
      if (!event.target.closest('#mha-search')) {
        box.hidden = true;
      }
    });
  },
};

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', MhaSearch.init);
} else {
  MhaSearch.init();
}
