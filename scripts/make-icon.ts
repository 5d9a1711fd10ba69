/**
 * Draws the bundle's icon (assets/icon.png): two speech bubbles on a rounded square, written
 * as a PNG with node:zlib so no image tool is needed. Run once; the PNG is committed.
 *   node --experimental-strip-types scripts/make-icon.ts
 */
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

/** Claude Desktop shows bundle icons best at 512×512; shapes are drawn on a 256 grid. */
const SIZE = 512;
const SCALE = SIZE / 256;
const SAMPLES = 4;
type Rgb = [number, number, number];

interface Shape {
  color: Rgb;
  inside(x: number, y: number): boolean;
}

function roundRect(x0: number, y0: number, x1: number, y1: number, r: number, color: Rgb): Shape {
  return {
    color,
    inside(x, y) {
      const dx = Math.max(x0 + r - x, 0, x - (x1 - r));
      const dy = Math.max(y0 + r - y, 0, y - (y1 - r));
      return x >= x0 && x <= x1 && y >= y0 && y <= y1 && dx * dx + dy * dy <= r * r;
    },
  };
}

function triangle(points: [number, number][], color: Rgb): Shape {
  return {
    color,
    inside(x, y) {
      const signs = points.map(([ax, ay], i) => {
        const [bx, by] = points[(i + 1) % points.length] ?? [0, 0];
        return Math.sign((bx - ax) * (y - ay) - (by - ay) * (x - ax));
      });
      return signs.every((sign) => sign >= 0) || signs.every((sign) => sign <= 0);
    },
  };
}

const BLUE: Rgb = [47, 79, 208];
const WHITE: Rgb = [255, 255, 255];
const PALE: Rgb = [159, 180, 255];
// Later shapes paint over earlier ones.
const shapes: Shape[] = [
  roundRect(8, 8, 248, 248, 52, BLUE),
  roundRect(40, 56, 172, 144, 22, WHITE),
  triangle(
    [
      [64, 140],
      [64, 180],
      [100, 142],
    ],
    WHITE,
  ),
  roundRect(92, 116, 216, 196, 22, PALE),
  triangle(
    [
      [192, 192],
      [192, 226],
      [158, 194],
    ],
    PALE,
  ),
];

const raw = Buffer.alloc(SIZE * (SIZE * 4 + 1));
for (let y = 0; y < SIZE; y++) {
  raw[y * (SIZE * 4 + 1)] = 0; // filter: none
  for (let x = 0; x < SIZE; x++) {
    const sum = [0, 0, 0, 0];
    for (let sy = 0; sy < SAMPLES; sy++) {
      for (let sx = 0; sx < SAMPLES; sx++) {
        const px = (x + (sx + 0.5) / SAMPLES) / SCALE;
        const py = (y + (sy + 0.5) / SAMPLES) / SCALE;
        const top = shapes.findLast((shape) => shape.inside(px, py));
        if (!top) continue;
        sum[0] = (sum[0] ?? 0) + top.color[0];
        sum[1] = (sum[1] ?? 0) + top.color[1];
        sum[2] = (sum[2] ?? 0) + top.color[2];
        sum[3] = (sum[3] ?? 0) + 1;
      }
    }
    const covered = sum[3] ?? 0;
    const at = y * (SIZE * 4 + 1) + 1 + x * 4;
    if (covered === 0) continue;
    raw[at] = Math.round((sum[0] ?? 0) / covered);
    raw[at + 1] = Math.round((sum[1] ?? 0) / covered);
    raw[at + 2] = Math.round((sum[2] ?? 0) / covered);
    raw[at + 3] = Math.round((255 * covered) / SAMPLES ** 2);
  }
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = (CRC_TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

const header = Buffer.alloc(13);
header.writeUInt32BE(SIZE, 0);
header.writeUInt32BE(SIZE, 4);
header.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA, no interlace

const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  chunk('IHDR', header),
  chunk('IDAT', deflateSync(raw, { level: 9 })),
  chunk('IEND', Buffer.alloc(0)),
]);
writeFileSync(new URL('../assets/icon.png', import.meta.url), png);
process.stdout.write(`assets/icon.png: ${png.length} bytes\n`);
