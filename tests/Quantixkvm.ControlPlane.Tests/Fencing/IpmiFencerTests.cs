using Quantixkvm.ControlPlane.Ha.Fencing;
using Quantixkvm.Domain.Hosts;

namespace Quantixkvm.ControlPlane.Tests.Fencing;

/// <summary>The IPMI fencer: its ipmitool arguments, and runs of a stand-in ipmitool that records what it was given.</summary>
public sealed class IpmiFencerTests : IDisposable
{
    private const string Password = "s3cret-bmc-pass";
    private readonly TempFolder _folder = new();
    private readonly IpmiFencing _bmc = new("10.0.0.5", "admin", "ipmi-node1");

    public IpmiFencerTests() => _folder.Write("ipmi-node1", Password + "\n");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void the_arguments_name_the_interface_bmc_and_user_and_take_the_password_from_the_environment()
    {
        IpmiFencer.Arguments(_bmc, "chassis", "power", "off")
            .ShouldBe(["-I", "lanplus", "-H", "10.0.0.5", "-U", "admin", "-E", "chassis", "power", "off"]);
        IpmiFencer.Arguments(_bmc with { Interface = "lan" }, "chassis", "power", "status")
            .ShouldBe(["-I", "lan", "-H", "10.0.0.5", "-U", "admin", "-E", "chassis", "power", "status"]);
    }

    [Fact]
    public async Task a_host_powered_off_over_ipmi_is_fenced_and_the_password_only_travels_in_the_environment()
    {
        var tool = FakeIpmitool(powerOff: "echo 'Chassis Power Control: Down/Off'; touch \"$dir/off\"");
        await using var fencing = await StartFencingAsync(tool);

        var verdict = await fencing.Fencer("ipmi").FenceAsync(Target(), CancellationToken.None);

        verdict.Fenced.ShouldBeTrue(verdict.Detail);
        verdict.Detail.ShouldContain("Chassis Power is off");
        var runs = Runs();
        runs.Count.ShouldBeGreaterThanOrEqualTo(2);
        runs[0].ShouldBe(["-I", "lanplus", "-H", "10.0.0.5", "-U", "admin", "-E", "chassis", "power", "off"]);
        runs[1].ShouldBe(["-I", "lanplus", "-H", "10.0.0.5", "-U", "admin", "-E", "chassis", "power", "status"]);
        runs.SelectMany(r => r).ShouldAllBe(argument => !argument.Contains(Password));
        File.ReadAllLines(Path.Combine(_folder.Path, "passwords.seen")).ShouldAllBe(p => p == Password);
    }

    [Fact]
    public async Task a_bmc_that_refuses_the_session_is_not_fenced_with_ipmitools_words()
    {
        var tool = FakeIpmitool(powerOff: "echo 'Error: Unable to establish IPMI v2 / RMCP+ session' >&2; exit 1",
            status: "echo 'Error: Unable to establish IPMI v2 / RMCP+ session' >&2; exit 1");
        await using var fencing = await StartFencingAsync(tool);
        var target = Target();

        var verdict = await fencing.Fencer("ipmi").FenceAsync(target, CancellationToken.None);

        verdict.Fenced.ShouldBeFalse();
        verdict.Detail.ShouldContain("Unable to establish IPMI v2 / RMCP+ session");
        verdict.Detail.ShouldContain(target.HostName);
    }

    [Fact]
    public async Task a_chassis_that_stays_on_is_not_fenced_after_the_confirm_time()
    {
        var tool = FakeIpmitool(powerOff: "echo 'Chassis Power Control: Down/Off'");
        await using var fencing = await StartFencingAsync(tool, confirmSeconds: 1);

        var verdict = await fencing.Fencer("ipmi").FenceAsync(Target(), CancellationToken.None);

        verdict.Fenced.ShouldBeFalse();
        verdict.Detail.ShouldContain("did not report the power off within 1 s (last: Chassis Power is on)");
    }

    [Fact]
    public async Task without_ipmitool_on_the_control_plane_nothing_is_fenced()
    {
        await using var fencing = await StartFencingAsync(Path.Combine(_folder.Path, "no-ipmitool-here"));

        var verdict = await fencing.Fencer("ipmi").FenceAsync(Target(), CancellationToken.None);

        verdict.Fenced.ShouldBeFalse();
        verdict.Detail.ShouldContain("ipmitool is not installed on the control plane");
    }

    [Fact]
    public async Task a_missing_password_secret_is_not_fenced_and_ipmitool_is_not_run()
    {
        var tool = FakeIpmitool(powerOff: "touch \"$dir/off\"");
        File.Delete(Path.Combine(_folder.Path, "ipmi-node1"));
        await using var fencing = await StartFencingAsync(tool);

        var verdict = await fencing.Fencer("ipmi").FenceAsync(Target(), CancellationToken.None);

        verdict.Fenced.ShouldBeFalse();
        verdict.Detail.ShouldContain("password secret 'ipmi-node1' is missing");
        File.Exists(Path.Combine(_folder.Path, "args.log")).ShouldBeFalse();
    }

    private FenceTarget Target() => FencingHost.Target(new HostFencing(["ipmi"], Ipmi: _bmc));

    private Task<FencingHost> StartFencingAsync(string tool, double confirmSeconds = 10) => FencingHost.StartAsync(new Dictionary<string, string?>
    {
        ["SecretsDirectory"] = _folder.Path,
        ["IpmiToolPath"] = tool,
        ["PowerOffConfirmSeconds"] = confirmSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["PollSeconds"] = "0.1",
    });

    /// <summary>
    /// A shell script standing in for ipmitool: logs its arguments (one per line, runs separated by "--"), the
    /// IPMI_PASSWORD it got, and answers "chassis power status" with on or off (off once a file "off" exists).
    /// </summary>
    private string FakeIpmitool(string powerOff, string? status = null)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("the ipmitool stand-in is a shell script");
        }

        var script = _folder.Write("ipmitool", $$"""
            #!/bin/sh
            dir='{{_folder.Path}}'
            for a in "$@"; do printf '%s\n' "$a" >> "$dir/args.log"; done
            echo -- >> "$dir/args.log"
            printf '%s\n' "$IPMI_PASSWORD" >> "$dir/passwords.seen"
            case "$*" in
              *"chassis power off") {{powerOff}} ;;
              *"chassis power status") {{status ?? "if [ -f \"$dir/off\" ]; then echo 'Chassis Power is off'; else echo 'Chassis Power is on'; fi"}} ;;
              *) echo "unexpected: $*" >&2; exit 2 ;;
            esac
            """);
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return script;
    }

    private List<List<string>> Runs()
    {
        var runs = new List<List<string>> { new() };
        foreach (var line in File.ReadAllLines(Path.Combine(_folder.Path, "args.log")))
        {
            if (line == "--")
            {
                runs.Add([]);
            }
            else
            {
                runs[^1].Add(line);
            }
        }

        return runs.Where(r => r.Count > 0).ToList();
    }
}
