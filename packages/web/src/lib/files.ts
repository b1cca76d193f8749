/** "1.2 MB", "340 KB", "12 B": sizes the way people read them (decimal units, like file managers show). */
export function formatBytes(bytes: number, locale?: string): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toLocaleString(locale, { maximumFractionDigits: digits, minimumFractionDigits: 0 })} ${units[unit]}`;
}

/** "0:07", "12:30", "1:02:03" from milliseconds. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** Files from a paste or drop (only real files; text pasted into the input stays text). */
export function filesFrom(data: DataTransfer | null): File[] {
  if (!data) return [];
  return Array.from(data.files ?? []).filter((file) => file.size > 0 || file.type !== '');
}

/**
 * Crops an image to the square the user framed and scales it to `size`×`size` PNG. `zoom` ≥ 1 scales the
 * shorter side to the square; `offsetX`/`offsetY` move the image (in square units, centred at 0).
 */
export async function cropSquare(source: CanvasImageSource & { width: number; height: number }, frame: { zoom: number; offsetX: number; offsetY: number }, size = 512): Promise<Blob> {
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  drawCrop(canvas, source, frame);
  return new Promise((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('crop failed'))), 'image/png'));
}

/** Draws the framed square of `source` onto `canvas` (used for the preview and for the result). */
export function drawCrop(canvas: HTMLCanvasElement, source: CanvasImageSource & { width: number; height: number }, frame: { zoom: number; offsetX: number; offsetY: number }): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const side = canvas.width;
  const scale = (side / Math.min(source.width, source.height)) * frame.zoom;
  const width = source.width * scale;
  const height = source.height * scale;
  const x = (side - width) / 2 + frame.offsetX * side;
  const y = (side - height) / 2 + frame.offsetY * side;
  ctx.clearRect(0, 0, side, side);
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, x, y, width, height);
}

/** Keeps the offsets so the image always covers the square. */
export function clampFrame(source: { width: number; height: number }, frame: { zoom: number; offsetX: number; offsetY: number }) {
  const scale = frame.zoom / Math.min(source.width, source.height);
  const maxX = Math.max(0, (source.width * scale - 1) / 2);
  const maxY = Math.max(0, (source.height * scale - 1) / 2);
  return { zoom: frame.zoom, offsetX: Math.min(maxX, Math.max(-maxX, frame.offsetX)), offsetY: Math.min(maxY, Math.max(-maxY, frame.offsetY)) };
}
