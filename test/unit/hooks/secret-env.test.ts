import { describe, expect, it } from 'vitest';
import { childEnvironment, SECRET_ENV_VARS } from '../../../src/hooks/secret-env.js';

describe('childEnvironment', () => {
  it('names the EAB MAC key and the TSIG key (every plugin option marked secret)', () => {
    expect([...SECRET_ENV_VARS].sort()).toEqual(['ACMECLI_EAB_HMAC_KEY', 'ACMECLI_NSUPDATE_KEY']);
  });

  it('drops the secret variables, keeps the rest, and adds the extra ones', () => {
    const env = childEnvironment(
      { PATH: '/bin', ACMECLI_EAB_HMAC_KEY: 'k', ACMECLI_NSUPDATE_KEY: 't', ACMECLI_EAB_KID: 'id', UNSET: undefined },
      { CERTBOT_DOMAIN: 'a.example' },
      'linux',
    );
    expect(env).toEqual({ PATH: '/bin', ACMECLI_EAB_KID: 'id', CERTBOT_DOMAIN: 'a.example' });
  });

  it('on Windows, where names are case-insensitive, drops them in any case', () => {
    const inherited = { Path: 'C:\\Windows', Acmecli_Eab_Hmac_Key: 'k', acmecli_nsupdate_key: 't' };
    expect(childEnvironment(inherited, {}, 'win32')).toEqual({ Path: 'C:\\Windows' });
    // Elsewhere those are other variables than acmecli's, and acmecli never read them.
    expect(childEnvironment(inherited, {}, 'linux')).toEqual(inherited);
  });
});
