using System.Net;
using Quantixkvm.GraphQLTransport.Tests.Support;

namespace Quantixkvm.GraphQLTransport.Tests;

public class HttpMediaTypesAndStatusCodes(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const string GraphQLResponseJson = "application/graphql-response+json";
    private const string Json = "application/json";

    private HttpClient Http => server.Host.Http;

    [Theory]
    [InlineData(GraphQLResponseJson, GraphQLResponseJson)]
    [InlineData(Json, Json)]
    [InlineData("application/graphql-response+json, application/json", GraphQLResponseJson)]
    [InlineData("application/json, application/graphql-response+json", GraphQLResponseJson)]
    [InlineData("application/graphql-response+json;q=0.5, application/json", Json)]
    [InlineData("application/graphql-response+json; charset=utf-8, application/json; charset=utf-8", GraphQLResponseJson)]
    [InlineData("*/*", Json)]
    [InlineData("application/*", Json)]
    [InlineData("*/*, application/graphql-response+json", GraphQLResponseJson)]
    [InlineData("text/html, */*;q=0.8", Json)]
    [InlineData("*/*, application/json;q=0", GraphQLResponseJson)]
    public async Task the_response_media_type_follows_the_accept_header(string accept, string expected)
    {
        var answer = await Http.PostJsonAsync(new { query = "{ hello }" }, accept);

        answer.Status.ShouldBe(HttpStatusCode.OK);
        answer.MediaType.ShouldBe(expected);
        answer.CharSet.ShouldBe("utf-8");
    }

    [Fact]
    public async Task a_request_without_accept_gets_application_json()
    {
        var answer = await Http.PostJsonAsync(new { query = "{ hello }" }, accept: null);

        answer.Status.ShouldBe(HttpStatusCode.OK);
        answer.MediaType.ShouldBe(Json);
    }

    [Theory]
    [InlineData("text/html")]
    [InlineData("application/xml, text/plain")]
    [InlineData("application/json; charset=iso-8859-1")]
    [InlineData("application/graphql-response+json;q=0, application/json;q=0")]
    public async Task an_accept_header_without_a_supported_media_type_is_refused_with_406(string accept)
    {
        var answer = await Http.PostJsonAsync(new { query = "{ hello }" }, accept);

        answer.Status.ShouldBe(HttpStatusCode.NotAcceptable);
        answer.FirstErrorCode.ShouldBe("NOT_ACCEPTABLE");
        answer.HasData.ShouldBeFalse();
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("application/graphql")]
    [InlineData("application/json; charset=utf-16")]
    [InlineData(null)]
    public async Task a_post_body_that_is_not_utf8_json_is_refused_with_415(string? contentType)
    {
        var answer = await Http.PostRawAsync("""{"query":"{ hello }"}""", contentType);

        answer.Status.ShouldBe(HttpStatusCode.UnsupportedMediaType);
        answer.FirstErrorCode.ShouldBe("UNSUPPORTED_MEDIA_TYPE");
    }

    [Theory]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("application/json;charset=UTF-8")]
    [InlineData("Application/JSON")]
    public async Task a_json_content_type_with_a_utf8_charset_or_other_casing_is_accepted(string contentType)
    {
        var answer = await Http.PostRawAsync("""{"query":"{ hello }"}""", contentType);

        answer.Status.ShouldBe(HttpStatusCode.OK);
        answer.Body.GetProperty("data").GetProperty("hello").GetString().ShouldBe("Hello, world!");
    }

    [Theory]
    [InlineData(GraphQLResponseJson)]
    [InlineData(Json)]
    public async Task a_body_that_is_not_json_is_a_400_with_code_invalid_json(string accept)
    {
        var answer = await Http.PostRawAsync("""{ "not a JSON""", "application/json", accept);

        answer.Status.ShouldBe(HttpStatusCode.BadRequest);
        answer.MediaType.ShouldBe(accept);
        answer.FirstErrorCode.ShouldBe("INVALID_JSON");
        answer.FirstError.GetProperty("message").GetString()!.ShouldStartWith("The request body is not valid JSON");
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("""{"qeury":"{ hello }"}""", "no 'query'")]
    [InlineData("""{"query":null}""", "no 'query'")]
    [InlineData("""{"query":42}""", "'query' parameter must be a string")]
    [InlineData("""{"query":{"obj":"ect"}}""", "'query' parameter must be a string")]
    [InlineData("""{"query":"{ hello }","variables":[7]}""", "'variables' parameter must be a JSON object")]
    [InlineData("""{"query":"{ hello }","variables":"{}"}""", "'variables' parameter must be a JSON object")]
    [InlineData("""{"query":"{ hello }","operationName":false}""", "'operationName' parameter must be a string")]
    [InlineData("""{"query":"{ hello }","extensions":0}""", "'extensions' parameter must be a JSON object")]
    [InlineData("""[{"query":"{ hello }"}]""", "batched requests are not supported")]
    public async Task a_malformed_request_is_a_400_with_code_bad_request_under_both_media_types(string body, string messagePart)
    {
        foreach (var accept in new[] { GraphQLResponseJson, Json })
        {
            var answer = await Http.PostRawAsync(body, "application/json", accept);

            answer.Status.ShouldBe(HttpStatusCode.BadRequest);
            answer.FirstErrorCode.ShouldBe("BAD_REQUEST");
            answer.FirstError.GetProperty("message").GetString()!.ShouldContain(messagePart);
            answer.HasData.ShouldBeFalse();
        }
    }

    [Fact]
    public async Task null_optional_parameters_are_the_same_as_absent_ones()
    {
        var answer = await Http.PostRawAsync("""{"query":"{ hello }","variables":null,"operationName":null,"extensions":null}""", "application/json", GraphQLResponseJson);

        answer.Status.ShouldBe(HttpStatusCode.OK);
        answer.Body.GetProperty("data").GetProperty("hello").GetString().ShouldBe("Hello, world!");
    }

    [Fact]
    public async Task a_get_without_a_query_parameter_is_a_400()
    {
        var answer = await Http.GetQueryAsync(new Dictionary<string, string> { ["operationName"] = "X" });

        answer.Status.ShouldBe(HttpStatusCode.BadRequest);
        answer.FirstErrorCode.ShouldBe("BAD_REQUEST");
    }

    [Theory]
    [InlineData("{ not json", "INVALID_JSON")]
    [InlineData("[1,2]", "BAD_REQUEST")]
    public async Task get_variables_must_be_a_json_object(string variables, string code)
    {
        var answer = await Http.GetQueryAsync(new Dictionary<string, string> { ["query"] = "{ hello }", ["variables"] = variables });

        answer.Status.ShouldBe(HttpStatusCode.BadRequest);
        answer.FirstErrorCode.ShouldBe(code);
    }

    [Theory]
    [InlineData(GraphQLResponseJson, HttpStatusCode.BadRequest)]
    [InlineData(Json, HttpStatusCode.OK)]
    public async Task a_document_that_does_not_parse_is_400_under_graphql_response_json_and_200_under_json(string accept, HttpStatusCode expected)
    {
        var answer = await Http.PostJsonAsync(new { query = "{" }, accept);

        answer.Status.ShouldBe(expected);
        answer.MediaType.ShouldBe(accept);
        answer.HasData.ShouldBeFalse();
        answer.FirstErrorCode.ShouldBe("SYNTAX_ERROR");
    }

    [Theory]
    [InlineData(GraphQLResponseJson, HttpStatusCode.BadRequest)]
    [InlineData(Json, HttpStatusCode.OK)]
    public async Task a_document_that_does_not_validate_is_400_under_graphql_response_json_and_200_under_json(string accept, HttpStatusCode expected)
    {
        var answer = await Http.PostJsonAsync(new { query = "{ noSuchField }" }, accept);

        answer.Status.ShouldBe(expected);
        answer.HasData.ShouldBeFalse();
        answer.FirstErrorCode.ShouldBe("FIELDS_ON_CORRECT_TYPE");
    }

    [Theory]
    [InlineData(GraphQLResponseJson, HttpStatusCode.BadRequest)]
    [InlineData(Json, HttpStatusCode.OK)]
    public async Task variables_that_do_not_coerce_are_400_under_graphql_response_json_and_200_under_json(string accept, HttpStatusCode expected)
    {
        var answer = await Http.PostJsonAsync(new { query = "query Q($name: String!) { hello(name: $name) }", variables = new { name = 42.5 } }, accept);

        answer.Status.ShouldBe(expected);
        answer.HasData.ShouldBeFalse();
        answer.FirstErrorCode.ShouldBe("INVALID_VALUE");
    }

    [Theory]
    [InlineData(GraphQLResponseJson, HttpStatusCode.BadRequest)]
    [InlineData(Json, HttpStatusCode.OK)]
    public async Task an_unknown_operation_name_is_400_under_graphql_response_json_and_200_under_json(string accept, HttpStatusCode expected)
    {
        var answer = await Http.PostJsonAsync(new { query = "query A { hello }", operationName = "B" }, accept);

        answer.Status.ShouldBe(expected);
        answer.HasData.ShouldBeFalse();
        answer.Body.GetProperty("errors").GetArrayLength().ShouldBeGreaterThan(0);
    }

    [Theory]
    [InlineData(GraphQLResponseJson)]
    [InlineData(Json)]
    public async Task a_document_over_the_size_limit_is_refused_with_413_document_too_large(string accept)
    {
        var query = "{ hello " + new string(' ', TestHost.MaxDocumentBytes) + "}";

        var post = await Http.PostJsonAsync(new { query }, accept);
        var get = await Http.GetQueryAsync(new Dictionary<string, string> { ["query"] = query }, accept);

        foreach (var answer in new[] { post, get })
        {
            answer.Status.ShouldBe(HttpStatusCode.RequestEntityTooLarge);
            answer.FirstErrorCode.ShouldBe("DOCUMENT_TOO_LARGE");
            answer.FirstError.GetProperty("message").GetString()!.ShouldContain($"at most {TestHost.MaxDocumentBytes} bytes");
        }
    }

    [Fact]
    public async Task a_document_exactly_at_the_size_limit_is_accepted()
    {
        var query = "{ hello " + new string(' ', TestHost.MaxDocumentBytes - 9) + "}";
        System.Text.Encoding.UTF8.GetByteCount(query).ShouldBe(TestHost.MaxDocumentBytes);

        var answer = await Http.PostJsonAsync(new { query });

        answer.Status.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task a_body_over_the_request_limit_is_refused_with_413_request_too_large()
    {
        var answer = await Http.PostJsonAsync(new { query = "{ hello }", variables = new { padding = new string('x', TestHost.MaxRequestBytes) } });

        answer.Status.ShouldBe(HttpStatusCode.RequestEntityTooLarge);
        answer.FirstErrorCode.ShouldBe("REQUEST_TOO_LARGE");
    }

    [Fact]
    public async Task a_chunked_body_over_the_request_limit_is_refused_with_413_too()
    {
        var body = System.Text.Json.JsonSerializer.Serialize(new { query = "{ hello }", variables = new { padding = new string('x', TestHost.MaxRequestBytes) } });
        using var request = new HttpRequestMessage(HttpMethod.Post, "/graphql") { Content = new StreamContent(new UnknownLengthStream(System.Text.Encoding.UTF8.GetBytes(body))) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.TransferEncodingChunked = true;

        var answer = await Http.ExchangeAsync(request);

        answer.Status.ShouldBe(HttpStatusCode.RequestEntityTooLarge);
        answer.FirstErrorCode.ShouldBe("REQUEST_TOO_LARGE");
    }

    [Fact]
    public async Task the_graphiql_page_is_html_pointing_at_the_endpoint()
    {
        using var response = await Http.GetAsync("/graphiql");
        var html = await response.Content.ReadAsStringAsync();

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/html");
        html.ShouldContain("new URL(\"/graphql\", window.location.href)");
        html.ShouldContain("GraphiQL.createFetcher");
        html.ShouldContain("integrity=\"sha384-");
    }

    [Fact]
    public async Task the_explorer_page_carries_an_offline_fallback_that_needs_only_this_server()
    {
        var html = await Http.GetStringAsync("/graphiql");

        html.ShouldContain("typeof GraphiQL !== 'undefined'");
        html.ShouldContain("liteExplorer(endpoint.href, subscriptionUrl.href)");
        html.ShouldContain("new WebSocket(wsUrl, 'graphql-transport-ws')");
        html.ShouldContain("__schema");
    }

    /// <summary>A stream whose length is unknown, so the client must send the body chunked.</summary>
    private sealed class UnknownLengthStream(byte[] content) : MemoryStream(content)
    {
        public override bool CanSeek => false;
    }
}
