// The GraphQL-over-HTTP conformance audit of the graphql-http library, against a live endpoint.
// Usage: node http-audit.mjs http://127.0.0.1:18080/graphql   (exit 1 if any MUST audit fails)
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) throw new Error('usage: node http-audit.mjs <graphql url>');

const results = [];
for (const audit of serverAudits({ url, fetchFn: fetch })) {
  results.push({ ...(await audit.fn()), name: audit.name });
}

const failed = results.filter((r) => r.status !== 'ok');
for (const r of failed) console.log(`${r.status.toUpperCase()} ${r.id} ${r.name}: ${r.reason}`);
const mustFailures = failed.filter((r) => r.name.startsWith('MUST'));
console.log(`graphql-http audit: ${results.length} audits, ${results.length - failed.length} ok, ${mustFailures.length} MUST failures`);
process.exit(mustFailures.length === 0 && failed.length === 0 ? 0 : 1);
