import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SEED_EVENT_GIFTS, SEED_GIFTS } from "../subgraphs/catalog/domain/seed.js";

/**
 * Writes the development gift images into assets/gifts/ (committed; run again after adding a
 * seeded gift: `npm run build && node dist/scripts/gift-assets.js`). Each is a small SVG, distinct
 * per gift (its own colour, shape and initials), with no external font or image, so it renders
 * offline. `<slug>.svg` is the picker image, `<slug>-animation.svg` the full-screen animation.
 */
const SHAPES = ["circle", "heart", "star", "diamond", "hexagon"] as const;

function shape(kind: (typeof SHAPES)[number], fill: string): string {
  switch (kind) {
    case "circle":
      return `<circle cx="64" cy="64" r="44" fill="${fill}"/>`;
    case "heart":
      return `<path d="M64 106 C20 76 16 48 34 34 C48 24 60 32 64 42 C68 32 80 24 94 34 C112 48 108 76 64 106Z" fill="${fill}"/>`;
    case "star":
      return `<path d="M64 14 L77 48 L113 49 L85 71 L95 106 L64 86 L33 106 L43 71 L15 49 L51 48Z" fill="${fill}"/>`;
    case "diamond":
      return `<path d="M64 14 L110 64 L64 114 L18 64Z" fill="${fill}"/>`;
    case "hexagon":
      return `<path d="M64 16 L106 40 L106 88 L64 112 L22 88 L22 40Z" fill="${fill}"/>`;
  }
}

function initials(name: string): string {
  return name
    .split(/\s+/)
    .map((w) => w[0])
    .join("")
    .slice(0, 2)
    .toUpperCase();
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function giftSvg(slug: string, name: string, index: number, animated: boolean): string {
  const hue = Math.round((index * 137.508) % 360); // golden angle: neighbours get distant colours
  const fill = `hsl(${hue} 70% 55%)`;
  const back = `hsl(${hue} 60% 92%)`;
  const body = shape(SHAPES[index % SHAPES.length], fill);
  const spin = animated
    ? `<animateTransform attributeName="transform" type="rotate" values="0 64 64;12 64 64;-12 64 64;0 64 64" dur="1.2s" repeatCount="indefinite"/>` +
      `<animate attributeName="opacity" values="1;0.75;1" dur="1.2s" repeatCount="indefinite"/>`
    : "";
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128" width="128" height="128" role="img" aria-label="${escape(name)}">` +
    `<title>${escape(name)}</title>` +
    `<rect width="128" height="128" rx="24" fill="${back}"/>` +
    `<g>${body}${spin}</g>` +
    `<text x="64" y="72" text-anchor="middle" font-family="sans-serif" font-size="26" font-weight="700" fill="#fff">${escape(initials(name))}</text>` +
    `<!-- ${slug} -->` +
    `</svg>\n`
  );
}

const dir = fileURLToPath(new URL(import.meta.url.includes("/dist/") ? "../../assets/gifts/" : "../assets/gifts/", import.meta.url));
mkdirSync(dir, { recursive: true });
const all: [string, string][] = [...SEED_GIFTS.map(([slug, name]) => [slug, name] as [string, string]), ...SEED_EVENT_GIFTS.map(([slug, name]) => [slug, name] as [string, string])];
all.forEach(([slug, name], i) => {
  writeFileSync(`${dir}${slug}.svg`, giftSvg(slug, name, i, false));
  writeFileSync(`${dir}${slug}-animation.svg`, giftSvg(slug, name, i, true));
});
console.log(`wrote ${all.length * 2} files to ${dir}`);
