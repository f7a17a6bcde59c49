// An SVG bar chart of a benchmark report: Mpps per workload, traffic model and implementation
// (largest ring; realistic traffic first, uniform last), on a log scale, with the Ethernet line rates
// drawn as vertical lines.
const COLORS = {
  "wasm-batch": "#1f6feb",
  "wasm-single": "#7aa7f0",
  "js-batch": "#d97706",
  "js-single": "#f3c27a",
  "js-plain": "#9ca3af",
  c: "#374151",
};
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");

/** Returns the SVG text for `report` (as bench/run.js writes it) and `lineRates` ([name, Mpps] pairs). */
export function chart(report, lineRates) {
  const ring = Math.max(...report.results.map((r) => r.ring));
  const results = report.results.filter((r) => r.ring === ring);
  const traffic = [...new Set(results.map((r) => r.traffic))].sort(
    (a, b) => Number(a === "uniform") - Number(b === "uniform"),
  );
  const groups = [...new Set(results.map((r) => r.workload))].flatMap((workload) =>
      traffic.map((t) => ({ workload, traffic: t })),
    ),
    impls = Object.keys(COLORS);
  const left = 190,
    width = 560,
    barH = 9,
    groupH = impls.length * barH + 12,
    top = 48;
  const height = top + groups.length * groupH + 40;
  const lo = 1,
    hi = 1000,
    x = (mpps) => left + (Math.log10(Math.min(Math.max(mpps, lo), hi)) / Math.log10(hi / lo)) * width;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${left + width + 30}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="16" font-size="13" font-weight="bold">packet-traits: Mpps per workload and traffic model, ring of ${ring} x 2048 B (log scale)</text>`,
    `<text x="10" y="32" fill="#555">${esc(report.machine.cpu)}, ${report.machine.cores} cores, node ${esc(report.node)}; median of ${results[0]?.samples.length ?? 0} samples</text>`,
  ];
  for (const [name, rate] of lineRates) {
    out.push(
      `<line x1="${x(rate)}" y1="${top - 6}" x2="${x(rate)}" y2="${height - 30}" stroke="#999" stroke-dasharray="3,3"/>`,
      `<text x="${x(rate) + 2}" y="${height - 18}" fill="#555">${name}</text>`,
    );
  }
  groups.forEach((group, g) => {
    const y0 = top + g * groupH;
    out.push(
      `<text x="${left - 6}" y="${y0 + groupH / 2}" text-anchor="end">${esc(group.workload)}, ${esc(group.traffic)}</text>`,
    );
    impls.forEach((impl, i) => {
      const r = results.find((q) => q.workload === group.workload && q.traffic === group.traffic && q.impl === impl);
      if (!r) return;
      const y = y0 + i * barH;
      out.push(
        `<rect x="${left}" y="${y}" width="${Math.max(1, x(r.mpps) - left)}" height="${barH - 1}" fill="${COLORS[impl]}"/>`,
        `<text x="${x(r.mpps) + 3}" y="${y + barH - 1}" font-size="8">${r.mpps.toFixed(1)}</text>`,
      );
    });
  });
  impls.forEach((impl, i) =>
    out.push(
      `<rect x="${10 + i * 120}" y="${height - 12}" width="9" height="9" fill="${COLORS[impl]}"/><text x="${10 + i * 120 + 12}" y="${height - 4}">${impl}</text>`,
    ),
  );
  out.push("</svg>\n");
  return out.join("\n");
}
