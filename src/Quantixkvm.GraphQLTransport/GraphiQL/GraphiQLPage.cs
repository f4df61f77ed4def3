using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Quantixkvm.GraphQLTransport.GraphiQL;

/// <summary>
/// The GraphiQL explorer page. GraphiQL 3.9.0 and React 18.3.1 are loaded from the unpkg CDN (pinned versions,
/// with Subresource Integrity hashes computed from the npm packages), so the page needs Internet access in the
/// browser; nothing is bundled into this assembly. GraphiQL's fetcher includes graphql-ws, so subscriptions run
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
            const fetcher = GraphiQL.createFetcher({ url: endpoint.href, subscriptionUrl: subscriptionUrl.href });
            ReactDOM.createRoot(document.getElementById('graphiql'))
              .render(React.createElement(GraphiQL, { fetcher, defaultEditorToolsVisibility: true }));
          </script>
        </body>
        </html>
        """;
}
