using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Quantixkvm.GraphQLTransport.GraphiQL;

/// <summary>
/// The GraphiQL explorer page. GraphiQL 3.9.0 and React 18.3.1 are loaded from the unpkg CDN (pinned versions,
/// with Subresource Integrity hashes computed from the npm packages), so GraphiQL needs Internet access in the
/// browser; nothing is bundled into this assembly. Without it, the page falls back to a small built-in explorer
/// (queries, mutations, subscriptions and a schema panel) that needs nothing but this server. GraphiQL's fetcher includes graphql-ws, so subscriptions run
/// over WebSocket against the same endpoint.
/// </summary>
internal static class GraphiQLPage
{
    public static Task WriteAsync(HttpContext context, string graphQLEndpoint)
    {
        // A rooted endpoint path is resolved against the app's path base, so the page works behind a prefix.
        var endpoint = graphQLEndpoint.StartsWith('/') ? context.Request.PathBase.Add(graphQLEndpoint).Value! : graphQLEndpoint;
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return context.Response.WriteAsync(Render(endpoint), context.RequestAborted);
    }

    // JsonSerializer's default encoder escapes <, >, & and quotes, so the value is safe inside the inline script.
    internal static string Render(string endpoint) => Template.Replace("__ENDPOINT__", JsonSerializer.Serialize(endpoint), StringComparison.Ordinal);

    private const string Template = """
        <!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>Quantixkvm GraphiQL</title>
          <style>
            html, body { margin: 0; height: 100%; overflow: hidden; }
            #graphiql { height: 100vh; }
          </style>
          <link rel="stylesheet" href="https://unpkg.com/graphiql@3.9.0/graphiql.min.css"
                integrity="sha384-QMux00XgRtwRLSYIY3kw2rj1ovk5AuuliAchk+HSQbqdbGFnz9GYuqIlOqxhwCE2" crossorigin="anonymous" />
        </head>
        <body>
          <div id="graphiql">Loading GraphiQL from unpkg.com&hellip;</div>
          <script src="https://unpkg.com/react@18.3.1/umd/react.production.min.js"
                  integrity="sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z" crossorigin="anonymous"></script>
          <script src="https://unpkg.com/react-dom@18.3.1/umd/react-dom.production.min.js"
                  integrity="sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1" crossorigin="anonymous"></script>
          <script src="https://unpkg.com/graphiql@3.9.0/graphiql.min.js"
                  integrity="sha384-8NGfVj4CVlqHajlZj+bPJT4thxPMHMJYn7DWK2CvtopLd02E7qsPHazniBYvVjOO" crossorigin="anonymous"></script>
          <script>
            const endpoint = new URL(__ENDPOINT__, window.location.href);
            const subscriptionUrl = new URL(endpoint.href);
            subscriptionUrl.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';
            if (typeof GraphiQL !== 'undefined' && typeof ReactDOM !== 'undefined') {
              const fetcher = GraphiQL.createFetcher({ url: endpoint.href, subscriptionUrl: subscriptionUrl.href });
              ReactDOM.createRoot(document.getElementById('graphiql'))
                .render(React.createElement(GraphiQL, { fetcher, defaultEditorToolsVisibility: true }));
            } else {
              liteExplorer(endpoint.href, subscriptionUrl.href);
            }

            // Offline fallback (no CDN reachable from the browser): a small explorer with no dependencies —
            // queries and mutations over HTTP, subscriptions over graphql-transport-ws, and the schema by introspection.
            function liteExplorer(url, wsUrl) {
              document.body.style.overflow = 'auto';
              const root = document.getElementById('graphiql');
              root.innerHTML = `
                <style>
                  .lite { font: 14px system-ui, sans-serif; padding: 12px; box-sizing: border-box; height: 100vh; display: flex; flex-direction: column; }
                  .lite .cols { display: grid; grid-template-columns: 1fr 1fr 280px; gap: 12px; flex: 1; min-height: 0; }
                  .lite section, .lite aside { display: flex; flex-direction: column; min-height: 0; }
                  .lite textarea, .lite pre { font: 13px ui-monospace, monospace; border: 1px solid #ccc; border-radius: 4px; padding: 8px; margin: 4px 0 10px; }
                  .lite textarea#q { flex: 3; } .lite textarea#v { flex: 1; } .lite pre { flex: 1; overflow: auto; background: #f7f7f9; white-space: pre-wrap; }
                  .lite aside > div { overflow: auto; border: 1px solid #ccc; border-radius: 4px; padding: 6px; font: 12px ui-monospace, monospace; }
                  .lite .note { color: #666; font-size: 12px; } .lite button { padding: 6px 14px; margin-right: 6px; }
                </style>
                <div class="lite">
                  <div><b>Quantixkvm GraphQL explorer</b> <span class="note">GraphiQL could not be loaded from unpkg.com; this built-in explorer works offline.</span></div>
                  <div class="cols">
                    <section><label for="q">Query, mutation or subscription</label><textarea id="q" spellcheck="false"></textarea>
                      <label for="v">Variables (JSON)</label><textarea id="v" spellcheck="false">{}</textarea>
                      <div><button id="run">Run</button><button id="stop" disabled>Stop subscription</button></div></section>
                    <section><label for="out">Result</label><pre id="out"></pre></section>
                    <aside><label>Schema</label><div id="schema">loading...</div></aside>
                  </div>
                </div>`;
              const $ = (id) => document.getElementById(id);
              $('q').value = '{\n  vms { id name powerState desiredPowerState version currentOperation { kind status deadline } }\n  hosts { name state cpus memoryMiB lastHeartbeatAt }\n}';
              let socket = null;
              $('run').onclick = async () => {
                let variables;
                try { variables = JSON.parse($('v').value || '{}'); } catch (e) { $('out').textContent = 'Variables are not valid JSON: ' + e.message; return; }
                if (/^\s*subscription\b/.test($('q').value)) { subscribe($('q').value, variables); return; }
                const response = await fetch(url, { method: 'POST', body: JSON.stringify({ query: $('q').value, variables }),
                  headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' } });
                $('out').textContent = 'HTTP ' + response.status + '\n' + JSON.stringify(await response.json(), null, 2);
              };
              function subscribe(query, variables) {
                if (socket) socket.close(1000);
                $('out').textContent = '(subscribing...)';
                socket = new WebSocket(wsUrl, 'graphql-transport-ws');
                const ws = socket;
                const show = (text) => { $('out').textContent = text + '\n\n' + $('out').textContent; };
                ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init' }));
                ws.onmessage = (event) => {
                  const message = JSON.parse(event.data);
                  if (message.type === 'connection_ack') { ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } })); $('stop').disabled = false; }
                  else if (message.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
                  else if (message.type === 'next' || message.type === 'error') show(new Date().toLocaleTimeString() + ' ' + message.type + '\n' + JSON.stringify(message.payload, null, 2));
                  else if (message.type === 'complete') { show('(complete)'); ws.close(1000); }
                };
                ws.onclose = (event) => { $('stop').disabled = true; if (event.code !== 1000) show('(socket closed: ' + event.code + ' ' + event.reason + ')'); };
                $('stop').onclick = () => { ws.send(JSON.stringify({ id: '1', type: 'complete' })); ws.close(1000); };
              }
              const typeName = (t) => t.kind === 'NON_NULL' ? typeName(t.ofType) + '!' : t.kind === 'LIST' ? '[' + typeName(t.ofType) + ']' : t.name;
              const typeRef = 'type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }';
              fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query:
                `{ __schema { types { name kind fields { name args { name ${typeRef} } ${typeRef} } inputFields { name ${typeRef} } enumValues { name } } } }` }) })
                .then((r) => r.json()).then((result) => {
                  const panel = $('schema'); panel.textContent = '';
                  const order = ['Query', 'Mutation', 'Subscription'];
                  const types = result.data.__schema.types.filter((t) => !t.name.startsWith('__') && t.kind !== 'SCALAR')
                    .sort((a, b) => ((order.indexOf(a.name) + 1 || 9) - (order.indexOf(b.name) + 1 || 9)) || a.name.localeCompare(b.name));
                  for (const type of types) {
                    const details = document.createElement('details'); details.open = order.includes(type.name);
                    const summary = document.createElement('summary'); summary.textContent = type.kind.toLowerCase() + ' ' + type.name; details.append(summary);
                    const lines = (type.fields || type.inputFields || []).map((f) => f.name + (f.args && f.args.length ? '(' + f.args.map((a) => a.name + ': ' + typeName(a.type)).join(', ') + ')' : '') + ': ' + typeName(f.type))
                      .concat((type.enumValues || []).map((e) => e.name));
                    for (const line of lines) { const div = document.createElement('div'); div.textContent = '  ' + line; details.append(div); }
                    panel.append(details);
                  }
                }).catch((e) => { $('schema').textContent = 'introspection failed: ' + e.message; });
            }
          </script>
        </body>
        </html>
        """;
}
