// Python distributions: *.dist-info/METADATA (wheels), *.egg-info/PKG-INFO (eggs), and the
// single-file *.egg-info that distutils installs write.
import { type Extractor, type FoundPackage, MiB } from './extractor.js';
import { parseHeaders } from './rfc822.js';

export function parsePythonMetadata(text: string): FoundPackage[] {
  const h = parseHeaders(text);
  const name = h.get('name');
  const version = h.get('version');
  if (!name || !version) return [];
  const pkg: FoundPackage = { ecosystem: 'PyPI', name, version };
  const license = h.get('license-expression') ?? h.get('license');
  // Old METADATA puts whole license texts in License; keep only a one-line value.
  if (license && license !== 'UNKNOWN' && !license.includes('\n') && license.length <= 200) pkg.license = license;
  return [pkg];
}

const METADATA = /\.dist-info\/METADATA$|\.egg-info(?:\/PKG-INFO)?$/;

export const pythonExtractor: Extractor = {
  name: 'python',
  matches: (f) => METADATA.test(f.path),
  // The headers come first; a long description after them is not needed.
  maxBytes: 1 * MiB,
  truncate: true,
  extract: (data) => ({ packages: parsePythonMetadata(data.toString('utf8')) }),
};
