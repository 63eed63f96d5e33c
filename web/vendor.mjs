// Copies the browser builds Upkeep's pages use out of node_modules into vendor/, with
// their licences. vendor/ is committed: the upkeep binary embeds it at build time
// (backend/src/http/pages.rs), so building Upkeep needs cargo alone.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";

const files = [
  ["leaflet/dist/leaflet.js", "leaflet.js"],
  ["leaflet/dist/leaflet.css", "leaflet.css"],
  ["leaflet/LICENSE", "LICENSE.leaflet"],
  // Draws Upkeep's vector tiles (/api/v1/tiles) on Leaflet's canvas: no WebGL, no worker.
  ["protomaps-leaflet/dist/protomaps-leaflet.js", "protomaps-leaflet.js"],
  ["protomaps-leaflet/LICENSE", "LICENSE.protomaps-leaflet"],
  ["chart.js/dist/chart.umd.min.js", "chart.umd.min.js"],
  ["chart.js/LICENSE.md", "LICENSE.chart.js"],
  // For the browser tests' accessibility checks only: never served by Upkeep.
  ["axe-core/axe.min.js", "axe.min.js"],
  ["axe-core/LICENSE", "LICENSE.axe-core"],
];
mkdirSync("vendor", { recursive: true });
for (const [from, to] of files) {
  copyFileSync(`node_modules/${from}`, `vendor/${to}`);
}
// The source maps are not shipped, so the comments pointing at them go too.
for (const [, to] of files.filter(([, to]) => to.endsWith(".js"))) {
  const text = readFileSync(`vendor/${to}`, "utf8");
  writeFileSync(`vendor/${to}`, text.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n"));
}
const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
const versions = Object.fromEntries(
  ["leaflet", "protomaps-leaflet", "chart.js", "axe-core"].map((name) => [name, lock.packages[`node_modules/${name}`].version]),
);
writeFileSync("vendor/VERSIONS.json", JSON.stringify(versions, null, 2) + "\n");
console.log("vendor/ holds", versions);
