/**
 * Where a message's media goes: the configured prefix, the message id and an extension. Derived
 * from the message alone, so a redelivered message overwrites its object instead of adding one.
 */
export function objectKey(
  pathPrefix: string,
  id: string,
  fileName: string | undefined,
  contentType: string,
): string {
  return `${pathPrefix}${id}${extensionOf(fileName, contentType)}`;
}

function extensionOf(fileName: string | undefined, contentType: string): string {
  const named = /\.([A-Za-z0-9]{1,10})$/.exec(fileName ?? '')?.[1];
  if (named) return `.${named.toLowerCase()}`;
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
  const known = extensionsByMediaType[mediaType];
  return known ? `.${known}` : '';
}

// The media types WhatsApp carries, and the common document types sent through it.
const extensionsByMediaType: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/heic': 'heic',
  'video/mp4': 'mp4',
  'video/3gpp': '3gp',
  'video/quicktime': 'mov',
  'video/webm': 'webm',
  'audio/ogg': 'ogg',
  'audio/mpeg': 'mp3',
  'audio/mp4': 'm4a',
  'audio/aac': 'aac',
  'audio/amr': 'amr',
  'audio/wav': 'wav',
  'audio/webm': 'weba',
  'application/pdf': 'pdf',
  'application/zip': 'zip',
  'application/json': 'json',
  'application/msword': 'doc',
  'application/vnd.ms-excel': 'xls',
  'application/vnd.ms-powerpoint': 'ppt',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': 'pptx',
  'text/plain': 'txt',
  'text/csv': 'csv',
  'text/vcard': 'vcf',
  'text/x-vcard': 'vcf',
};
