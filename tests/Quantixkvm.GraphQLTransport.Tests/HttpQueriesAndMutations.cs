using System.Net;
using Quantixkvm.GraphQLTransport.Tests.Support;

namespace Quantixkvm.GraphQLTransport.Tests;

public class HttpQueriesAndMutations(ServerFixture server) : IClassFixture<ServerFixture>
{
    private HttpClient Http => server.Host.Http;

    [Fact]
    public async Task a_post_query_returns_its_data()
    {
        var answer = await Http.PostJsonAsync(new { query = "query Greet($name: String) { hello(name: $name) }", variables = new { name = "Ada" }, operationName = "Greet" },
            accept: "application/graphql-response+json");

        answer.Status.ShouldBe(HttpStatusCode.OK);
        answer.Body.GetProperty("data").GetProperty("hello").GetString().ShouldBe("Hello, Ada!");
        answer.Body.TryGetProperty("errors", out _).ShouldBeFalse();
    }

    [Fact]
    public async Task a_get_query_reads_query_variables_and_operation_name_from_the_query_string()
    {
        var answer = await Http.GetQueryAsync(new Dictionary<string, string>
        {
            ["query"] = "query A { a: hello } query B($name: String) { b: hello(name: $name) }",
            ["operationName"] = "B",
            ["variables"] = """{"name":"Grace"}""",
            ["extensions"] = """{"tracing":false}""",
        });

        answer.Status.ShouldBe(HttpStatusCode.OK);
        answer.Body.GetProperty("data").GetProperty("b").GetString().ShouldBe("Hello, Grace!");
        answer.Body.GetProperty("data").TryGetProperty("a", out _).ShouldBeFalse();
    }

    [Fact]
    public async Task a_mutation_over_post_runs()
    {
        var before = server.Host.Probe.EchoCount;

        var answer = await Http.PostJsonAsync(new { query = """mutation { echo(message: "ping") }""" });

        answer.Status.ShouldBe(HttpStatusCode.OK);
        answer.Body.GetProperty("data").GetProperty("echo").GetString().ShouldBe("ping");
        server.Host.Probe.EchoCount.ShouldBe(before + 1);
    }

    [Fact]
    public async Task a_mutation_over_get_is_refused_with_405_and_not_run()
    {
        var before = server.Host.Probe.EchoCount;

        var answer = await Http.GetQueryAsync(new Dictionary<string, string> { ["query"] = """mutation { echo(message: "ping") }""" },
            accept: "application/graphql-response+json");

        answer.Status.ShouldBe(HttpStatusCode.MethodNotAllowed);
        answer.Response.Content.Headers.Allow.ShouldBe(["POST"]);
        answer.FirstErrorCode.ShouldBe("METHOD_NOT_ALLOWED");
        answer.HasData.ShouldBeFalse();
        server.Host.Probe.EchoCount.ShouldBe(before);
    }

    [Fact]
    public async Task a_get_that_selects_the_query_of_a_document_that_also_has_a_mutation_runs()
    {
        var answer = await Http.GetQueryAsync(new Dictionary<string, string>
        {
            ["query"] = """query Q { hello } mutation M { echo(message: "x") }""",
            ["operationName"] = "Q",
        });

        answer.Status.ShouldBe(HttpStatusCode.OK);
        answer.Body.GetProperty("data").GetProperty("hello").GetString().ShouldBe("Hello, world!");
    }

    [Theory]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("PATCH")]
    public async Task other_methods_are_refused_with_405(string method)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), "/graphql");

        var answer = await Http.ExchangeAsync(request);

        answer.Status.ShouldBe(HttpStatusCode.MethodNotAllowed);
        answer.Response.Content.Headers.Allow.ShouldBe(["GET", "POST"], ignoreOrder: true);
        answer.FirstErrorCode.ShouldBe("METHOD_NOT_ALLOWED");
    }

    [Fact]
    public async Task a_resolver_error_code_reaches_the_response_as_extensions_code()
    {
        var answer = await Http.PostJsonAsync(new { query = "{ hello missing }" }, accept: "application/graphql-response+json");

        // A field error is a partial response: executed, so 200 even under application/graphql-response+json.
        answer.Status.ShouldBe(HttpStatusCode.OK);
        answer.Body.GetProperty("data").GetProperty("hello").GetString().ShouldBe("Hello, world!");
        answer.Body.GetProperty("data").GetProperty("missing").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        answer.FirstError.GetProperty("message").GetString().ShouldBe("There is no VM with that id.");
        answer.FirstErrorCode.ShouldBe("NOT_FOUND");
        answer.FirstError.GetProperty("path")[0].GetString().ShouldBe("missing");
    }

    [Fact]
    public async Task the_user_context_factory_output_reaches_resolvers()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/graphql")
        {
            Content = new StringContent("""{"query":"{ whoami }"}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-User", "operator-7");

        var answer = await Http.ExchangeAsync(request);

        answer.Body.GetProperty("data").GetProperty("whoami").GetString().ShouldBe("operator-7");
    }

    [Fact]
    public async Task the_request_cancellation_token_reaches_resolvers()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/graphql")
        {
            Content = new StringContent("""{"query":"{ slow }"}""", System.Text.Encoding.UTF8, "application/json"),
        };

        await Should.ThrowAsync<OperationCanceledException>(() => Http.SendAsync(request, cancel.Token));

        await server.Host.Probe.SlowQueryCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task a_subscription_over_http_is_refused_as_a_request_error()
    {
        var answer = await Http.PostJsonAsync(new { query = "subscription { ticks(count: 1) }" }, accept: "application/graphql-response+json");

        answer.Status.ShouldBe(HttpStatusCode.BadRequest);
        answer.FirstErrorCode.ShouldBe("SUBSCRIPTION_NOT_SUPPORTED");
        answer.HasData.ShouldBeFalse();
    }
}
