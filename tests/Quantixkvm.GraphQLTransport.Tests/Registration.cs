using GraphQL;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Quantixkvm.GraphQLTransport.Tests.Support;

namespace Quantixkvm.GraphQLTransport.Tests;

public class Registration
{
    [Fact]
    public async Task mapping_graphql_without_adding_the_transport_fails_with_a_clear_message()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddGraphQL(graphQL => graphQL.AddSchema<TestSchema>().AddSystemTextJson());
        await using var app = builder.Build();

        var error = Should.Throw<InvalidOperationException>(() => app.MapGraphQL("/graphql"));

        error.Message.ShouldContain("AddGraphQLTransport");
    }

    [Fact]
    public async Task a_request_limit_smaller_than_the_document_limit_is_rejected_at_startup()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddGraphQL(graphQL => graphQL.AddSchema<TestSchema>().AddSystemTextJson());
        builder.Services.AddGraphQLTransport(options =>
        {
            options.MaxDocumentBytes = 64 * 1024;
            options.MaxRequestBytes = 1024;
        });
        await using var app = builder.Build();

        var error = Should.Throw<OptionsValidationException>(() => app.MapGraphQL("/graphql"));

        error.Message.ShouldContain("MaxRequestBytes");
    }
}
