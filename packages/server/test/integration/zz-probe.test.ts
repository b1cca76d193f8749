import { it } from 'vitest';
import { startServer, api } from '../support/helpers.js';
it('probe', async () => {
  const s = await startServer();
  console.log(JSON.stringify(await api(s.url, 'POST', '/auth/refresh', {})));
  console.log(JSON.stringify(await api(s.url, 'POST', '/auth/refresh', { headers: { 'content-type': 'application/json' } })));
  console.log(JSON.stringify(await api(s.url, 'POST', '/auth/refresh', { body: {} })));
  await s.close();
});
