// The graphql-ws library's own client (graphql-transport-ws protocol), against a live control plane:
// creates and starts a VM over HTTP, follows its operation over WebSocket until it completes.
// Usage: node ws-client.mjs http://127.0.0.1:18080/graphql   (exit 0 when the operation ends SUCCEEDED and the stream completes)
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const url = process.argv[2];
if (!url) throw new Error('usage: node ws-client.mjs <graphql url>');

const post = async (query, variables) => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
};

const created = await post('mutation { createVm(input: { name: "graphql-ws client", vcpus: 1, memoryMiB: 64, start: true }) { operation { id } } }');
const operationId = created.createVm.operation.id;

const client = createClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0 });
const statuses = [];
await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no completion within 20 s; saw ${statuses.join(', ')}`)), 20000);
  client.subscribe(
    { query: 'subscription ($id: ID!) { operationUpdated(id: $id) { id kind status } }', variables: { id: operationId } },
    {
      next: (message) => statuses.push(message.data.operationUpdated.status),
      error: (error) => { clearTimeout(timer); reject(error); },
      complete: () => { clearTimeout(timer); resolve(); },
    });
});
await client.dispose();

console.log(`graphql-ws client: operation ${operationId} went ${statuses.join(' -> ')}`);
process.exit(statuses.at(-1) === 'SUCCEEDED' ? 0 : 1);
