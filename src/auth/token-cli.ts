import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { loadConfig } from '../config/config.ts';
import { resolveJwtKey } from '../config/jwt-key.ts';

/**
 * `npm run token -- --user U --device D [--ttl SECONDS]`: prints a token the
 * running configuration accepts. Development only: it signs with JWT_SECRET
 * or the generated development secret; a relay configured with a public key
 * or JWKS gets its tokens from the auth service that holds the private key.
 */
const { values } = parseArgs({
  options: { user: { type: 'string' }, device: { type: 'string' }, ttl: { type: 'string', default: '86400' } },
});
if (!values.user || !values.device) {
  console.error('usage: npm run token -- --user USER_ID --device DEVICE_ID [--ttl SECONDS]');
  process.exit(2);
}
const config = loadConfig(process.env);
const { key } = resolveJwtKey(config);
if (key.kind !== 'secret') {
  console.error('this relay verifies tokens with a public key or JWKS; sign tokens with the matching private key instead');
  process.exit(2);
}
let jwt = new SignJWT({ did: values.device })
  .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
  .setSubject(values.user)
  .setIssuedAt()
  .setExpirationTime(`${Number(values.ttl)}s`);
if (config.JWT_ISSUER) jwt = jwt.setIssuer(config.JWT_ISSUER);
if (config.JWT_AUDIENCE) jwt = jwt.setAudience(config.JWT_AUDIENCE);
console.log(await jwt.sign(new TextEncoder().encode(key.secret)));
