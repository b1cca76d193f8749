import { fileTypeFromBuffer } from 'file-type';
import type { AttachmentKind } from '@kkchat/protocol';
import { extensionOf } from './files.names.js';

/** Bytes the type sniffer looks at (file-type reads at most this many from the start). */
export const SNIFF_BYTES = 4100;

/**
 * Names that run as a program when opened on a common desktop (Windows above all): refused whatever the content
 * (BR-23). A real PNG named `photo.exe` is refused too rather than stored under a silently changed name.
 */
const BLOCKED_EXTENSIONS = new Set([
  'exe', 'dll', 'com', 'scr', 'pif', 'msi', 'msp', 'msc', 'bat', 'cmd', 'vbs', 'vbe', 'js', 'jse', 'wsf', 'wsh',
  'ps1', 'psm1', 'hta', 'cpl', 'lnk', 'reg', 'inf', 'scf', 'gadget', 'jar', 'apk', 'app',
]);

/** Content that is a program, whatever its name or declared type. */
const BLOCKED_MIMES = new Set([
  'application/x-msdownload',
  'application/vnd.microsoft.portable-executable',
  'application/x-dosexec',
  'application/x-elf',
  'application/x-mach-binary',
  'application/java-vm',
  'application/java-archive',
  'application/vnd.android.package-archive',
  'application/x-shockwave-flash',
]);

/** Images sharp decodes for size and thumbnail, and browsers show: the only images sent as kind `image`. */
export const RASTER_IMAGES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/avif']);

/** Types served inline (shown by the browser in <img>, <audio>, <video>); everything else is an attachment. */
const INLINE = new Set([
  ...RASTER_IMAGES,
  'audio/mpeg', 'audio/mp4', 'audio/x-m4a', 'audio/ogg', 'audio/opus', 'audio/wav', 'audio/x-wav', 'audio/webm', 'audio/aac',
  'video/mp4', 'video/webm', 'video/ogg',
]);

export function isBlockedName(name: string): boolean {
  return BLOCKED_EXTENSIONS.has(extensionOf(name));
}

/** The type of the content from its first bytes: file-type's answer, else text/plain for UTF-8 text, else octet-stream. */
export async function sniffType(head: Buffer): Promise<string> {
  const detected = await fileTypeFromBuffer(head);
  if (detected) return detected.mime;
  return looksLikeText(head) ? 'text/plain' : 'application/octet-stream';
}

export function isBlockedMime(mime: string): boolean {
  return BLOCKED_MIMES.has(mime);
}

/** UTF-8 without NUL or other C0 controls than tab, line feed, form feed and carriage return. */
function looksLikeText(head: Buffer): boolean {
  if (head.length === 0) return false;
  // A multi-byte character cut at the end of the sample is not a reason to say no.
  const sample = head.length >= SNIFF_BYTES ? head.subarray(0, head.length - 3) : head;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0B\x0E-\x1F]/.test(sample.toString('latin1'))) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample, { stream: head.length >= SNIFF_BYTES });
    return true;
  } catch {
    return false;
  }
}

/** How a file is served: inline with its own type only when it is a displayable image, audio or video. */
export function servedAs(mime: string): { contentType: string; inline: boolean } {
  return INLINE.has(mime) ? { contentType: mime, inline: true } : { contentType: 'application/octet-stream', inline: false };
}

/** Whether a file fits a message kind: `image` needs a decoded raster image, `audio` audio or an audio container. */
export function fitsKind(kind: AttachmentKind, file: { mime: string; hasThumbnail: boolean }): boolean {
  switch (kind) {
    case 'image':
      return RASTER_IMAGES.has(file.mime) && file.hasThumbnail;
    case 'audio':
      // Browsers record voice clips as WebM or Ogg (Opus), which file-type reports as video/webm or audio/ogg.
      return file.mime.startsWith('audio/') || file.mime === 'video/webm' || file.mime === 'video/ogg' || file.mime === 'video/mp4';
    case 'video':
      return file.mime.startsWith('video/');
    case 'file':
      return true;
  }
}
