// The course site's pictures, made to be read (header.html loads this on every page;
// site_postprocess.py writes the markup it works on). Offline, no libraries.
//
// - A picture of several heatmaps (one per head) has a row of buttons before it,
//   span.mha-panel-switch: "All heads", then one per head. A button swaps the picture
//   for its own file (NAME.panel-N.svg, or the whole NAME.svg) at its own width.
// - A tap on a heatmap's cell (a phone shows no hover titles) writes that cell's title,
//   the query word, the key word and the weight, under the picture. A page opened from
//   file:// may not look inside its pictures: there, only the hover titles work.
'use strict';

(function () {
  // Under the picture: the line that shows the tapped cell.
  function readout(object) {
    let line = object.parentElement.querySelector('.mha-cell-readout');
    if (!line) {
      line = document.createElement('div');
      line.className = 'mha-cell-readout';
      line.setAttribute('aria-live', 'polite');
      object.insertAdjacentElement('afterend', line);
    }
    return line;
  }

  // Once the picture has loaded: a click or tap on a cell shows its <title>.
  function listenForTaps(object) {
    object.addEventListener('load', function () {
      let inner = null;
      try {
        inner = object.contentDocument;
      } catch (error) {
        inner = null;  // file://: the picture is another origin
      }
      if (!inner) {
        return;
      }
      inner.addEventListener('click', function (event) {
        const cell = event.target.closest && event.target.closest('g.cell, g.block');
        const title = cell && cell.querySelector('title');
        if (title) {
          readout(object).textContent = title.textContent;
        }
      });
    });
  }

  function choose(button) {
    const group = button.closest('.mha-panel-switch');
    const object = group.parentElement.querySelector('object');
    if (!object) {
      return;
    }
    for (const other of group.querySelectorAll('button')) {
      other.setAttribute('aria-pressed', other === button ? 'true' : 'false');
    }
    // A new <object> rather than a new data attribute: every browser loads it afresh.
    const fresh = object.cloneNode(false);
    fresh.setAttribute('data', button.dataset.src);
    fresh.style.width = button.dataset.width + 'px';
    fresh.style.minWidth = button.dataset.minWidth + 'px';
    listenForTaps(fresh);
    object.replaceWith(fresh);
    const line = group.parentElement.querySelector('.mha-cell-readout');
    if (line) {
      line.textContent = '';
    }
  }

  function start() {
    for (const object of document.querySelectorAll('div.image object[type="image/svg+xml"]')) {
      listenForTaps(object);
      if (object.contentDocument && object.contentDocument.readyState === 'complete') {
        object.dispatchEvent(new Event('load'));  // loaded before this script ran
      }
    }
    document.addEventListener('click', function (event) {
      const button = event.target.closest && event.target.closest('.mha-panel-switch button');
      if (button) {
        choose(button);
      }
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
