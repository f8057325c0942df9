/**
 * certbot's `-w DIR -d a -d b -w DIR2 -d c`: each -d belongs to the -w before it. commander
 * keeps no order between different options, so the raw arguments are read again here.
 */
import { parseIdentifiers } from '../crypto/identifiers.js';

const WEBROOT_FLAGS = ['-w', '--webroot-path'];
const DOMAIN_FLAGS = ['-d', '--domain', '--domains'];

function valueOf(
  args: readonly string[],
  index: number,
  flags: readonly string[],
): { value: string; consumed: number } | undefined {
  const arg = args[index] as string;
  for (const flag of flags) {
    if (arg === flag && index + 1 < args.length) return { value: args[index + 1] as string, consumed: 2 };
    if (flag.startsWith('--') && arg.startsWith(`${flag}=`)) return { value: arg.slice(flag.length + 1), consumed: 1 };
    if (!flag.startsWith('--') && arg.startsWith(flag) && arg.length > flag.length)
      return { value: arg.slice(flag.length), consumed: 1 };
  }
  return undefined;
}

/** identifier value → the webroot named before it (absent when no -w preceded it). */
export function webrootGroups(args: readonly string[]): Record<string, string> {
  const map: Record<string, string> = {};
  let current: string | undefined;
  for (let i = 0; i < args.length;) {
    if (args[i] === '--') break;
    const webroot = valueOf(args, i, WEBROOT_FLAGS);
    if (webroot) {
      current = webroot.value;
      i += webroot.consumed;
      continue;
    }
    const domain = valueOf(args, i, DOMAIN_FLAGS);
    if (domain) {
      if (current !== undefined) {
        for (const identifier of parseIdentifiers([domain.value])) map[identifier.value] = current;
      }
      i += domain.consumed;
      continue;
    }
    i++;
  }
  return map;
}
