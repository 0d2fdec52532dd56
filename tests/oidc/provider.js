// A local OpenID provider for the single sign-on tests (tests/test_sso_oidc.py), not for use
// elsewhere. Settings come from the environment: PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI,
// and ACCOUNTS, a JSON object of login name -> claims (email, email_verified, groups, ...).
// Its development interactions sign in any login name without checking the password.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const accounts = JSON.parse(process.env.ACCOUNTS || '{}');

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'groups'],
  },
  conformIdTokenClaims: false, // the scopes' claims go into the ID token too
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    if (!Object.hasOwn(accounts, id)) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...accounts[id] }; } };
  },
});

provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider listening on ${port}`));
