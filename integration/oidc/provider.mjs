// A real OpenID provider for zapgate's integration tests: panva's certified
// oidc-provider, configured for the OAuth 2.0 device authorization grant
// that `zapgate enroll` and `zapgate keys approve` use.
//
//   node provider.mjs --port PORT --jwks FILE [--id-token-ttl SECONDS] [--interval SECONDS]
//
// PORT (or $OIDC_PORT) is the port on 127.0.0.1; the issuer is
// http://127.0.0.1:PORT. FILE is a JSON Web Key Set of private signing keys
// (RS256 or ES256, each with a "kid"); a test rotates keys by restarting the
// provider on the same port with another set. --id-token-ttl (default 600)
// makes ID tokens short-lived for the expiry test. --interval (default 5)
// is the polling interval the device authorization response announces
// (oidc-provider itself sends none, and clients then poll every 5 s).
//
// Clients (public, device_code grant only, no secret):
//   zapgate-enroll  the client zapgate's enrollment is configured with
//   other-app       a second client, for ID tokens with the wrong audience
//
// Accounts (any password; dev interactions): alice and bob are in the group
// backup-admins, carol in backup-admins and security, mallory in none. Each
// has email NAME@example.com and a "groups" claim (scope groups); the ID
// token carries the scope claims itself (conformIdTokenClaims: false).
//
// It prints "listening" on stdout when it accepts connections. It keeps
// everything in memory and stops on SIGTERM or SIGINT.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.OIDC_PORT || '' },
    jwks: { type: 'string', default: process.env.OIDC_JWKS || '' },
    'id-token-ttl': { type: 'string', default: process.env.OIDC_ID_TOKEN_TTL || '600' },
    interval: { type: 'string', default: process.env.OIDC_INTERVAL || '5' },
  },
});

function fail(msg) {
  console.error(`provider.mjs: ${msg}`);
  process.exit(2);
}

const port = Number(args.port);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  fail(`--port: want a TCP port, got ${JSON.stringify(args.port)}`);
}
if (!args.jwks) fail('--jwks FILE is required (a JWK set of private signing keys)');
let jwks;
try {
  jwks = JSON.parse(readFileSync(args.jwks, 'utf8'));
} catch (err) {
  fail(`--jwks ${args.jwks}: ${err.message}`);
}
if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) fail(`--jwks ${args.jwks}: no "keys"`);
const idTokenTTL = Number(args['id-token-ttl']);
if (!Number.isInteger(idTokenTTL) || idTokenTTL <= 0) {
  fail(`--id-token-ttl: want whole seconds > 0, got ${JSON.stringify(args['id-token-ttl'])}`);
}
const interval = Number(args.interval);
if (!Number.isInteger(interval) || interval <= 0) {
  fail(`--interval: want whole seconds > 0, got ${JSON.stringify(args.interval)}`);
}

const accounts = {
  alice: ['backup-admins'],
  bob: ['backup-admins'],
  carol: ['backup-admins', 'security'],
  mallory: [],
};

const deviceClient = (id) => ({
  client_id: id,
  token_endpoint_auth_method: 'none',
  grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
  response_types: [],
  redirect_uris: [],
});

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [deviceClient('zapgate-enroll'), deviceClient('other-app')],
  jwks,
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
  },
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  conformIdTokenClaims: false,
  ttl: {
    IdToken: idTokenTTL,
    AccessToken: 600,
    DeviceCode: 600,
  },
  async findAccount(ctx, id) {
    if (!Object.hasOwn(accounts, id)) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          name: id,
          preferred_username: id,
          email: `${id}@example.com`,
          email_verified: true,
          groups: accounts[id],
        };
      },
    };
  },
});

// The listener runs synchronously before the response is written.
provider.on('device_authorization.success', (ctx, body) => { body.interval = interval; });
provider.on('server_error', (ctx, err) => console.error('server_error', err));

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});
server.on('error', (err) => fail(`listen 127.0.0.1:${port}: ${err.message}`));
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
