/**
 * The environment variables that hand acmecli a secret: the EAB MAC key, and every plugin option
 * marked secret (the nsupdate TSIG key). acmecli reads them, redacts their values from every
 * output, and never passes them on to the commands it starts.
 */
import { builtinPluginSpecs } from '../challenges/specs.js';

export const EAB_HMAC_KEY_ENV = 'ACMECLI_EAB_HMAC_KEY';

export const SECRET_ENV_VARS: readonly string[] = [
  EAB_HMAC_KEY_ENV,
  ...builtinPluginSpecs.flatMap((plugin) =>
    plugin.options.flatMap((option) => (option.secret && option.env !== undefined ? [option.env] : [])),
  ),
];

/**
 * The environment a hook or reload command gets: acmecli's own without SECRET_ENV_VARS, plus
 * `extra`. The command is the user's, but cron gives it acmecli's whole environment and it
 * often runs tools that log theirs or pass it further (curl, ssh, a web server's reload): none
 * needs the MAC key or the TSIG key, so, as OpenSSH passes on only what is allowed, they stay.
 */
export function childEnvironment(
  inherited: Readonly<Record<string, string | undefined>>,
  extra: Readonly<Record<string, string>> = {},
  platform: NodeJS.Platform = process.platform,
): Record<string, string> {
  // Windows' variable names are case-insensitive: Acmecli_Eab_Hmac_Key is the same variable.
  const fold = (name: string) => (platform === 'win32' ? name.toUpperCase() : name);
  const secret = new Set(SECRET_ENV_VARS.map(fold));
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(inherited)) {
    if (value !== undefined && !secret.has(fold(name))) env[name] = value;
  }
  return { ...env, ...extra };
}
