// A small hand-written canvas line chart for live series: no dependencies, redrawn on
// every push, scaled for the device pixel ratio so lines stay crisp.

const PAD = { left: 48, right: 12, top: 12, bottom: 22 };

export class LineChart {
  // canvas: an HTMLCanvasElement; options: {color, unit, maxPoints, format}
  constructor(canvas, options = {}) {
    this.canvas = canvas;
    this.color = options.color || "#2563eb";
    this.unit = options.unit || "";
    this.maxPoints = options.maxPoints || 60;
    this.format = options.format || ((v) => formatNumber(v));
    this.points = []; // [{t: ms since epoch, v: number | null}]
    this.draw();
  }

  push(value, time = Date.now()) {
    const v = Number.isFinite(value) ? value : null; // null draws a gap
    this.points.push({ t: time, v });
    if (this.points.length > this.maxPoints) this.points.shift();
    this.draw();
  }

  get last() {
    const known = this.points.filter((p) => p.v !== null);
    return known.length ? known[known.length - 1].v : null;
  }

  draw() {
    const { canvas } = this;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || canvas.width;
    const height = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);

    const plotW = width - PAD.left - PAD.right;
    const plotH = height - PAD.top - PAD.bottom;
    const values = this.points.filter((p) => p.v !== null).map((p) => p.v);
    const max = niceMax(values.length ? Math.max(...values) : 0);

    // Grid and y labels: 0, max/2, max.
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#6b7280";
    ctx.strokeStyle = "#e5e7eb";
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const frac of [0, 0.5, 1]) {
      const y = PAD.top + plotH * (1 - frac);
      ctx.beginPath();
      ctx.moveTo(PAD.left, Math.round(y) + 0.5);
      ctx.lineTo(PAD.left + plotW, Math.round(y) + 0.5);
      ctx.stroke();
      ctx.fillText(this.format(max * frac), PAD.left - 6, y);
    }
    ctx.textAlign = "left";
    ctx.textBaseline = "alphabetic";
    ctx.fillText(`last ${this.maxPoints} samples${this.unit ? ` (${this.unit})` : ""}`,
      PAD.left, height - 6);

    if (this.points.length < 2) {
      ctx.textAlign = "center";
      ctx.fillText("waiting for data…", PAD.left + plotW / 2, PAD.top + plotH / 2);
      return;
    }
    const step = plotW / (this.maxPoints - 1);
    const x0 = PAD.left + plotW - step * (this.points.length - 1);
    ctx.strokeStyle = this.color;
    ctx.lineWidth = 2;
    ctx.lineJoin = "round";
    ctx.beginPath();
    let drawing = false;
    this.points.forEach((p, i) => {
      if (p.v === null) {
        drawing = false;
        return;
      }
      const x = x0 + step * i;
      const y = PAD.top + plotH * (1 - (max ? p.v / max : 0));
      if (drawing) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      drawing = true;
    });
    ctx.stroke();
  }
}

// The smallest 1, 2 or 5 times a power of ten at or above `value` (1 when all zero).
export function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) {
    if (m * power >= value) return m * power;
  }
  return 10 * power;
}

export function formatNumber(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  if (v === 0) return "0";
  if (Math.abs(v) >= 1000) return `${(v / 1000).toFixed(1)}k`;
  if (Math.abs(v) >= 10) return v.toFixed(0);
  if (Math.abs(v) >= 1) return v.toFixed(1);
  return v.toPrecision(2);
}
