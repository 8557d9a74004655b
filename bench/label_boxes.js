// The event map's label boxes as the browser laid them out (bench_eventmap_browser.py and
// tests/e2e/test_eventmap_browser.py): overlapping label pairs, labels over another node's shape.
(() => {
  const roots = [document];
  document.querySelectorAll('*').forEach((e) => { if (e.shadowRoot) roots.push(e.shadowRoot); });
  let svg = null;
  for (const r of roots) { svg = svg || r.querySelector('.cs-map svg'); }
  if (!svg) return null;
  const union = (els) => {
    const rs = els.map((e) => e.getBoundingClientRect()).filter((r) => r.width > 0 && r.height > 0);
    if (!rs.length) return null;
    return { l: Math.min(...rs.map((r) => r.left)), t: Math.min(...rs.map((r) => r.top)),
             r: Math.max(...rs.map((r) => r.right)), b: Math.max(...rs.map((r) => r.bottom)) };
  };
  const labels = [];
  const shapes = [];
  svg.querySelectorAll('g.node').forEach((g) => {
    const box = union([...g.querySelectorAll('text')]);
    if (box) labels.push({ kind: 'node', owner: g.id, box });
    const shape = union([...g.querySelectorAll('path, ellipse, polygon')]);
    if (shape) shapes.push({ owner: g.id, box: shape });
  });
  svg.querySelectorAll('g.edge').forEach((g) => {
    const box = union([...g.querySelectorAll('text')]);
    if (box) labels.push({ kind: 'edge', owner: g.id, box });
  });
  const hit = (a, b) => Math.min(a.r, b.r) - Math.max(a.l, b.l) > 0.5
                     && Math.min(a.b, b.b) - Math.max(a.t, b.t) > 0.5;
  let pairs = 0, overShapes = 0;
  const examples = [];
  for (let i = 0; i < labels.length; i++) {
    for (let j = i + 1; j < labels.length; j++) {
      if (hit(labels[i].box, labels[j].box)) {
        pairs++;
        if (examples.length < 5) examples.push([labels[i].owner, labels[j].owner]);
      }
    }
    for (const s of shapes) {
      if (s.owner !== labels[i].owner && hit(labels[i].box, s.box)) {
        overShapes++;
        if (examples.length < 5) examples.push([labels[i].owner, 'shape ' + s.owner]);
      }
    }
  }
  return { pairs, overShapes, examples,
           node_labels: labels.filter((l) => l.kind === 'node').length,
           edge_labels: labels.filter((l) => l.kind === 'edge').length };
})
