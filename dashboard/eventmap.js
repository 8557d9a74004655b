// The event map component (dashboard/_mapcomponent.py): dot's SVG, clicks, highlight, zoom.
const STORE = 'choreoscope.eventmap.view';

function readView() {
  try { return JSON.parse(window.sessionStorage.getItem(STORE) || 'null'); } catch (e) { return null; }
}
function writeView(v) {
  try { window.sessionStorage.setItem(STORE, JSON.stringify(v)); } catch (e) { /* private mode */ }
}
function naturalBox(svg) {
  const b = (svg.getAttribute('data-natural') || svg.getAttribute('viewBox') || '0 0 100 100')
    .trim().split(/[ ,]+/).map(Number);
  return { x: b[0], y: b[1], w: b[2], h: b[3] };
}
function setBox(host, box) {
  const svg = host.querySelector('svg');
  if (!svg) return;
  svg.setAttribute('viewBox', `${box.x} ${box.y} ${box.w} ${box.h}`);
  host._box = box;
}
function fitHeight(host, width) {
  // the width is read before the SVG goes in: reading it after would lay the new drawing out
  // once more, synchronously, before its first frame
  const svg = host.querySelector('svg');
  if (!svg) return;
  const nat = naturalBox(svg);
  const scale = Math.min(1.6, width / nat.w);   // never blow a small map up past 160 %
  const h = Math.max(320, Math.min(host._data.max_height || 3000, nat.h * scale + 8));
  host.style.height = `${Math.round(h)}px`;
}
function titles(svg) {
  // dot puts our tooltip on the link (xlink:title) and the DOT id in <title>: show the tooltip
  svg.querySelectorAll('g.node, g.edge, g.cluster').forEach((g) => {
    const a = g.querySelector('a');
    const t = g.querySelector(':scope > title');
    const tip = a && (a.getAttribute('xlink:title') || a.getAttribute('title'));
    if (t && tip) t.textContent = tip;
    if (a) { a.removeAttribute('xlink:title'); a.removeAttribute('title'); }
  });
}
function highlight(host) {
  const svg = host.querySelector('svg');
  if (!svg) return;
  const d = host._data;
  const near = new Set([...(d.near_nodes || []), ...(d.near_edges || [])]);
  const selected = new Set(d.selected || []);
  svg.classList.toggle('focus', selected.size > 0);
  svg.querySelectorAll('g.node, g.edge').forEach((g) => {
    g.classList.toggle('near', near.has(g.id));
    g.classList.toggle('selected', selected.has(g.id));
  });
  host.dataset.selected = (d.selected || []).map((i) => d.nodes[i]).join(' ');
}
function zoomAt(host, factor, cx, cy) {
  const box = host._box; if (!box) return;
  const rect = host.getBoundingClientRect();
  const px = box.x + (cx - rect.left) / rect.width * box.w;
  const py = box.y + (cy - rect.top) / rect.height * box.h;
  const w = box.w * factor, h = box.h * factor;
  setBox(host, { x: px - (px - box.x) * factor, y: py - (py - box.y) * factor, w, h });
  writeView({ key: host._data.view_key, box: host._box });
}
function attach(host) {
  host.addEventListener('wheel', (e) => {
    // Ctrl/⌘ + wheel (and a trackpad's pinch) zooms; a plain wheel scrolls the page
    if (!(e.ctrlKey || e.metaKey)) return;
    e.preventDefault();
    zoomAt(host, e.deltaY > 0 ? 1.15 : 1 / 1.15, e.clientX, e.clientY);
  }, { passive: false });
  let drag = null;
  host.addEventListener('pointerdown', (e) => {
    drag = { x: e.clientX, y: e.clientY, box: { ...host._box }, moved: false };
  });
  host.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
    if (!drag.moved) return;
    const rect = host.getBoundingClientRect();
    setBox(host, { ...drag.box, x: drag.box.x - dx / rect.width * drag.box.w,
                   y: drag.box.y - dy / rect.height * drag.box.h });
  });
  const end = () => {
    if (drag && drag.moved) writeView({ key: host._data.view_key, box: host._box });
    host._dragged = Boolean(drag && drag.moved);
    drag = null;
  };
  host.addEventListener('pointerup', end);
  host.addEventListener('pointerleave', end);
  host.addEventListener('dblclick', () => {
    const svg = host.querySelector('svg');
    if (svg) { setBox(host, naturalBox(svg)); writeView(null); }
  });
  host.addEventListener('click', (e) => {
    if (host._dragged) { host._dragged = false; return; }
    const node = e.target.closest('g.node');
    if (node && host._data.nodes[node.id] !== undefined) {
      host._component.setTriggerValue('clicked', host._data.nodes[node.id]);
      return;
    }
    const cluster = e.target.closest('g.cluster');
    if (cluster && host._data.clusters[cluster.id] !== undefined) {
      host._component.setTriggerValue('collapse', host._data.clusters[cluster.id]);
    }
  });
}

export default function (component) {
  const { data, parentElement } = component;
  let host = parentElement.querySelector('.cs-map');
  if (!host) {
    host = document.createElement('div');
    host.className = 'cs-map';
    host.setAttribute('data-testid', 'eventMap');
    parentElement.appendChild(host);
    attach(host);
  }
  host._component = component;
  host._data = data;
  if (host.dataset.svgDigest !== data.digest) {
    const started = performance.now();
    const width = host.clientWidth || 900;
    const tpl = document.createElement('template');
    tpl.innerHTML = data.svg;      // dot's output: an <svg> of escaped text
    const svg = tpl.content.querySelector('svg');
    host.replaceChildren();
    if (svg) {
      svg.setAttribute('data-natural', svg.getAttribute('viewBox') || '');
      svg.removeAttribute('width');
      svg.removeAttribute('height');
      svg.setAttribute('preserveAspectRatio', 'xMidYMid meet');
      titles(svg);
      host.appendChild(svg);
    }
    host.dataset.svgDigest = data.digest;
    fitHeight(host, width);
    const saved = readView();
    setBox(host, saved && saved.key === data.view_key ? saved.box : naturalBox(svg));
    host.dataset.drawnMs = String(Math.round(performance.now() - started));
    host.dataset.drawnAt = String(Date.now());
  }
  highlight(host);
}
