using Microsoft.Extensions.DependencyInjection;
using Quantixkvm.ControlPlane.Dispatch;
using Quantixkvm.ControlPlane.Tests.Support;
using Quantixkvm.Testing;

namespace Quantixkvm.ControlPlane.Tests.Networks;

/// <summary>Security groups through the API: rules added and removed, bad rules refused naming the problem, deletion guarded.</summary>
public sealed class SecurityGroupApiTests(ControlPlaneFixture fixture) : IClassFixture<ControlPlaneFixture>
{
    private ControlPlaneApp App => fixture.App;

    [Fact]
    public async Task rules_are_added_and_removed_and_the_group_reads_back_with_them()
    {
        var api = App.Api();
        var name = NetworkApi.Unique("ssh");
        var created = await api.CreateGroupAsync(name, "SSH from the office");
        var id = created.Text("securityGroup.id");
        created.Int("version").ShouldBe(3);
        created.List("securityGroup.rules").Select(r => (r!.Text("direction"), r!.Text("protocol"), r!.Text("etherType"))).ShouldBe(
            [("EGRESS", "ANY", "IPV4"), ("EGRESS", "ANY", "IPV6")], "a new group lets its ports send anything, as in Neutron");

        var ssh = await api.AddRuleAsync(id, new { direction = "INGRESS", protocol = "TCP", portMin = 22, portMax = 22, remoteCidr = "10.0.0.0/8" });
        var ping = await api.AddRuleAsync(id, new { direction = "INGRESS", protocol = "ICMP6" });
        var fromPeers = await api.AddRuleAsync(id, new { direction = "INGRESS", protocol = "ANY", remoteGroupId = id });

        ssh.Int("version").ShouldBe(4);
        var sshRule = ssh.At("securityGroup.rules.2")!;
        sshRule.Text("direction").ShouldBe("INGRESS");
        sshRule.Text("protocol").ShouldBe("TCP");
        sshRule.Text("etherType").ShouldBe("IPV4", "it follows the remote CIDR");
        sshRule.Int("portMin").ShouldBe(22);
        sshRule.Int("portMax").ShouldBe(22);
        sshRule.Text("remoteCidr").ShouldBe("10.0.0.0/8");
        sshRule.At("remoteGroupId").ShouldBeNull();
        ping.Text("securityGroup.rules.3.etherType").ShouldBe("IPV6", "ICMP6 is IPv6's");
        ping.At("securityGroup.rules.3.portMin").ShouldBeNull();
        fromPeers.Text("securityGroup.rules.4.remoteGroupId").ShouldBe(id);

        var removed = (await api.DataAsync(NetworkApi.RemoveRule, new { securityGroupId = id, ruleId = ping.Text("securityGroup.rules.3.id") }))["removeSecurityGroupRule"]!;

        removed.Int("version").ShouldBe(7);
        var group = (await api.GroupAsync(id))!;
        group.Text("name").ShouldBe(name);
        group.Text("description").ShouldBe("SSH from the office");
        group.List("rules").Select(r => r!.Text("protocol")).ShouldBe(["ANY", "ANY", "TCP", "ANY"]);
        (await api.GroupsAsync()).Select(g => g!.Text("id")).ShouldContain(id);
    }

    [Theory]
    [InlineData("TCP", 22, null, "10.0.0.0/33", "remote CIDR: '10.0.0.0/33' has an invalid prefix length")]
    [InlineData("TCP", 22, null, "not-a-cidr", "remote CIDR: 'not-a-cidr' is not in CIDR notation")]
    [InlineData("ICMP", 1, 10, null, "a port range applies only to Tcp and Udp rules, not to Icmp")]
    [InlineData("UDP", 600, 500, null, "port range 600-500 starts after it ends")]
    [InlineData("TCP", 70000, null, null, "port 70000 is out of range")]
    public async Task a_bad_rule_is_refused_as_validation_naming_the_problem(string protocol, int? portMin, int? portMax, string? remoteCidr, string problem)
    {
        var api = App.Api();
        var id = (await api.CreateGroupAsync(NetworkApi.Unique("bad-rule"))).Text("securityGroup.id");

        var (code, message) = await api.RefusalAsync(NetworkApi.AddRule,
            new { securityGroupId = id, input = new { direction = "INGRESS", protocol, portMin, portMax, remoteCidr } });

        code.ShouldBe("VALIDATION");
        message.ShouldContain(problem);
        (await api.GroupAsync(id))!.List("rules").Count.ShouldBe(2, "only the default egress rules");
    }

    [Fact]
    public async Task a_rule_naming_an_unknown_group_is_not_found_and_an_id_that_is_not_a_uuid_is_validation()
    {
        var api = App.Api();
        var id = (await api.CreateGroupAsync(NetworkApi.Unique("remote"))).Text("securityGroup.id");
        var unknown = Guid.NewGuid().ToString();

        var (code, message) = await api.RefusalAsync(NetworkApi.AddRule,
            new { securityGroupId = id, input = new { direction = "INGRESS", protocol = "ANY", remoteGroupId = unknown } });
        var (badCode, bad) = await api.RefusalAsync(NetworkApi.AddRule,
            new { securityGroupId = id, input = new { direction = "INGRESS", protocol = "ANY", remoteGroupId = "group-7" } });
        var (badGroupCode, badGroup) = await api.RefusalAsync(NetworkApi.RemoveRule, new { securityGroupId = "g", ruleId = Guid.NewGuid().ToString() });

        code.ShouldBe("NOT_FOUND");
        message.ShouldContain($"security group {unknown} does not exist");
        badCode.ShouldBe("VALIDATION");
        bad.ShouldContain("remoteGroupId 'group-7' is not a valid id");
        badGroupCode.ShouldBe("VALIDATION");
        badGroup.ShouldContain("securityGroupId 'g' is not a valid id");
    }

    [Fact]
    public async Task a_taken_group_name_and_a_rule_the_group_already_has_are_refused_as_already_exists()
    {
        var api = App.Api();
        var name = NetworkApi.Unique("dup");
        var id = (await api.CreateGroupAsync(name)).Text("securityGroup.id");
        var rule = new { direction = "EGRESS", protocol = "UDP", portMin = 53, remoteCidr = "192.0.2.0/24" };
        var first = await api.AddRuleAsync(id, rule);

        var (nameCode, nameMessage) = await api.RefusalAsync(NetworkApi.CreateGroup, new { input = new { name } });
        var (ruleCode, ruleMessage) = await api.RefusalAsync(NetworkApi.AddRule, new { securityGroupId = id, input = rule });

        nameCode.ShouldBe("ALREADY_EXISTS");
        nameMessage.ShouldContain($"a security group named '{name}' already exists");
        ruleCode.ShouldBe("ALREADY_EXISTS");
        ruleMessage.ShouldContain($"already has this rule (rule {first.Text("securityGroup.rules.2.id")})");
    }

    [Fact]
    public async Task a_group_named_by_another_groups_rule_cannot_be_deleted_until_that_rule_is_removed()
    {
        var api = App.Api();
        var db = (await api.CreateGroupAsync(NetworkApi.Unique("db"))).Text("securityGroup.id");
        var appName = NetworkApi.Unique("app");
        var app = (await api.CreateGroupAsync(appName)).Text("securityGroup.id");
        var fromDb = (await api.AddRuleAsync(app, new { direction = "INGRESS", protocol = "TCP", portMin = 8080, remoteGroupId = db }))
            .Text("securityGroup.rules.2.id");

        var (code, message) = await api.RefusalAsync(NetworkApi.DeleteGroup, new { id = db });

        code.ShouldBe("INVALID_STATE");
        message.ShouldContain($"security group '{appName}' has a rule naming this group");
        (await api.GroupAsync(db)).ShouldNotBeNull();

        await api.DataAsync(NetworkApi.RemoveRule, new { securityGroupId = app, ruleId = fromDb });
        var deleted = (await api.DataAsync(NetworkApi.DeleteGroup, new { id = db }))["deleteSecurityGroup"]!;

        deleted.At("securityGroup.deletedAt").ShouldNotBeNull();
        (await api.GroupAsync(db)).ShouldBeNull();
        (await api.GroupsAsync()).Select(g => g!.Text("id")).ShouldNotContain(db);
        var (ruleCode, _) = await api.RefusalAsync(NetworkApi.AddRule,
            new { securityGroupId = app, input = new { direction = "INGRESS", protocol = "ANY", remoteGroupId = db } });
        ruleCode.ShouldBe("NOT_FOUND", "a deleted group cannot be named");
    }

    [Fact]
    public async Task security_group_changed_sends_the_group_after_each_change()
    {
        var api = App.Api();
        var id = (await api.CreateGroupAsync(NetworkApi.Unique("watched"))).Text("securityGroup.id");
        var hub = App.Services.GetRequiredService<ChangeHub>();
        var listening = hub.SecurityGroups.SubscriberCount;
        await using var ws = await TestServerSubscriptions.ConnectAsync(App);
        await ws.SubscribeAsync("sg", "subscription($id: ID) { securityGroupChanged(id: $id) { id version rules { protocol portMin } } }", new { id });
        await Eventually.WaitAsync(() => Task.FromResult(hub.SecurityGroups.SubscriberCount > listening), "the group subscription to be listening");

        await api.AddRuleAsync(id, new { direction = "INGRESS", protocol = "TCP", portMin = 443 });

        var seen = await ws.ReadUntilAsync("sg", d => d["securityGroupChanged"]?["version"]?.GetValue<int>() == 4, TimeSpan.FromSeconds(15));
        var last = seen[^1]["securityGroupChanged"]!;
        last.Text("id").ShouldBe(id);
        last.Int("rules.2.portMin").ShouldBe(443);
    }
}
