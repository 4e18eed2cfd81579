// A line chart as SVG, drawn from numbers: one series of points over labelled days.
"use strict";

const SalesbotChart = (() => {
  const NS = "http://www.w3.org/2000/svg";
  function svg(tag, attributes = {}, text) {
    const node = document.createElementNS(NS, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // points: [{label, value}] with value in [0, 1]; drawn as a percentage line.
  function line(points, { title, width = 640, height = 240 } = {}) {
    const pad = { left: 44, right: 12, top: 12, bottom: 32 };
    const w = width - pad.left - pad.right;
    const h = height - pad.top - pad.bottom;
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart", "aria-label": title });
    root.append(svg("title", {}, title));
    for (const tick of [0, 0.5, 1]) {
      const y = pad.top + h * (1 - tick);
      root.append(svg("line", { x1: pad.left, x2: pad.left + w, y1: y, y2: y, class: "grid" }));
      root.append(svg("text", { x: pad.left - 6, y: y + 4, "text-anchor": "end", class: "axis" }, `${Math.round(tick * 100)}%`));
    }
    const step = points.length > 1 ? w / (points.length - 1) : 0;
    const xy = points.map((p, i) => [pad.left + (points.length > 1 ? i * step : w / 2), pad.top + h * (1 - p.value)]);
    if (xy.length) {
      root.append(svg("polyline", { points: xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "), class: "series" }));
    }
    points.forEach((p, i) => {
      const [x, y] = xy[i];
      const dot = svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 4, class: "point", "data-label": p.label, "data-value": p.value });
      dot.append(svg("title", {}, `${p.label}: ${(p.value * 100).toFixed(1)}%`));
      root.append(dot);
      if (points.length <= 8 || i === 0 || i === points.length - 1) {
        root.append(svg("text", { x, y: height - 10, "text-anchor": "middle", class: "axis" }, p.label));
      }
    });
    return root;
  }

  return { line };
})();
