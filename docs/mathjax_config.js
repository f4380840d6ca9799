// Added by Doxygen to every page's MathJax configuration (MATHJAX_CODEFILE).
// The site carries only MathJax's TeX web fonts and its HTML-CSS output, so
// MathJax must not switch to fonts or renderers it would have to download:
// STIX fonts installed on the reader's system, image fonts, or the SVG output
// offered by the right-click menu. Its "Loading..." and "Typesetting..."
// messages in the corner of the page are switched off. A formula wider than its
// container (on a phone, or a long display equation) is broken into lines where
// TeX would break it, at its relations and operators.
MathJax.Hub.Config({
  "HTML-CSS": { availableFonts: [], preferredFont: null, webFont: "TeX", imageFont: null,
                linebreaks: { automatic: true } },
  MathMenu: { showRenderer: false, showFontMenu: false },
  messageStyle: "none"
});
