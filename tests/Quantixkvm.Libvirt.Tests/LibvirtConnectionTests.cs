namespace Quantixkvm.Libvirt.Tests;

public sealed class LibvirtConnectionTests : IDisposable
{
    private readonly LibvirtConnection connection = LibvirtConnection.Open(TestDriver.Uri);

    public void Dispose() => connection.Dispose();

    [Fact]
    public void opening_the_test_driver_gives_a_live_connection_that_remembers_its_uri()
    {
        connection.IsAlive.ShouldBeTrue();
        connection.Uri.ShouldBe(TestDriver.Uri);
    }

    [Fact]
    public void the_test_host_reports_positive_and_consistent_capacity()
    {
        NodeInfo node = connection.GetNodeInfo();

        node.CpuModel.ShouldNotBeNullOrWhiteSpace();
        node.MemoryKiB.ShouldBeGreaterThan(0);
        node.Cpus.ShouldBeGreaterThan(0);
        node.MhZ.ShouldBeGreaterThan(0);
        node.NumaNodes.ShouldBeGreaterThan(0);
        node.Cpus.ShouldBe(node.NumaNodes * node.Sockets * node.Cores * node.Threads);
    }

    [Fact]
    public void the_default_test_host_is_the_fixed_one_libvirt_describes()
    {
        // libvirt's built-in test host: 2 NUMA cells x 2 sockets x 2 cores x 2 threads at 1.4 GHz, 3 GiB.
        connection.GetNodeInfo().ShouldBe(new NodeInfo("i686", 3 * 1024 * 1024, 16, 1400, 2, 2, 2, 2));
    }

    [Fact]
    public void the_test_host_is_named_after_this_machine()
    {
        // The test driver answers with the real host name (possibly fully qualified).
        connection.GetHostname().ShouldStartWith(Environment.MachineName, Case.Insensitive);
    }

    [Fact]
    public void opening_a_bogus_uri_raises_libvirts_own_error()
    {
        var error = Should.Throw<LibvirtException>(() => LibvirtConnection.Open("bogus:///nowhere"));

        error.Operation.ShouldBe("virConnectOpen");
        error.Code.ShouldNotBe(0);
        error.Message.ShouldNotBeNullOrWhiteSpace();
    }

    [Fact]
    public void opening_a_test_driver_file_that_does_not_exist_reports_an_xml_error()
    {
        var error = Should.Throw<LibvirtException>(
            () => LibvirtConnection.Open("test:///nonexistent/quantixkvm-host.xml"));

        error.ErrorCode.ShouldBe(LibvirtErrorCode.XmlError);
        error.Message.ShouldContain("/nonexistent/quantixkvm-host.xml");
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void opening_an_empty_uri_is_refused_before_libvirt_is_asked(string uri)
    {
        Should.Throw<ArgumentException>(() => LibvirtConnection.Open(uri));
    }

    [Fact]
    public void opening_a_null_uri_is_refused_before_libvirt_is_asked()
    {
        Should.Throw<ArgumentNullException>(() => LibvirtConnection.Open(null!));
    }

    [Fact]
    public void the_default_test_host_runs_a_domain_called_test()
    {
        using LibvirtDomain? test = connection.FindDomainByName("test");

        test.ShouldNotBeNull();
        test.Name.ShouldBe("test");
        test.GetState().State.ShouldBe(DomainState.Running);
    }

    [Fact]
    public void finding_an_unknown_uuid_returns_null()
    {
        connection.FindDomain(Guid.NewGuid()).ShouldBeNull();
    }

    [Fact]
    public void finding_an_unknown_name_returns_null()
    {
        connection.FindDomainByName("qkvm-no-such-domain-" + Guid.NewGuid().ToString("N")).ShouldBeNull();
    }

    [Fact]
    public void finding_a_domain_by_uuid_and_by_name_gives_the_same_domain()
    {
        DomainSpec spec = TestDriver.NewSpec();
        try
        {
            connection.DefineDomain(DomainXml.Build(spec)).Dispose();

            using LibvirtDomain? byUuid = connection.FindDomain(spec.Uuid);
            using LibvirtDomain? byName = connection.FindDomainByName(spec.Name);

            byUuid.ShouldNotBeNull().Name.ShouldBe(spec.Name);
            byName.ShouldNotBeNull().Uuid.ShouldBe(spec.Uuid);
        }
        finally
        {
            TestDriver.Remove(connection, spec.Uuid);
        }
    }

    [Fact]
    public void listing_all_domains_includes_defined_inactive_ones_and_the_running_default()
    {
        DomainSpec first = TestDriver.NewSpec();
        DomainSpec second = TestDriver.NewSpec();
        try
        {
            connection.DefineDomain(DomainXml.Build(first)).Dispose();
            connection.DefineDomain(DomainXml.Build(second)).Dispose();

            IReadOnlyList<LibvirtDomain> domains = connection.ListAllDomains();
            try
            {
                domains.Select(d => d.Uuid).ShouldContain(first.Uuid);
                domains.Select(d => d.Uuid).ShouldContain(second.Uuid);
                domains.Single(d => d.Uuid == first.Uuid).Name.ShouldBe(first.Name);
                domains.Select(d => d.Name).ShouldContain("test");
            }
            finally
            {
                foreach (LibvirtDomain domain in domains)
                {
                    domain.Dispose();
                }
            }
        }
        finally
        {
            TestDriver.Remove(connection, first.Uuid);
            TestDriver.Remove(connection, second.Uuid);
        }
    }

    [Fact]
    public void two_connections_to_the_default_test_host_see_the_same_domains()
    {
        DomainSpec spec = TestDriver.NewSpec();
        try
        {
            connection.DefineDomain(DomainXml.Build(spec)).Dispose();

            using LibvirtConnection other = LibvirtConnection.Open(TestDriver.Uri);
            using LibvirtDomain? seen = other.FindDomain(spec.Uuid);

            seen.ShouldNotBeNull().Name.ShouldBe(spec.Name);
        }
        finally
        {
            TestDriver.Remove(connection, spec.Uuid);
        }
    }

    [Fact]
    public void defining_malformed_xml_raises_libvirts_xml_error()
    {
        var error = Should.Throw<LibvirtException>(() => connection.DefineDomain("<domain"));

        error.Operation.ShouldBe("virDomainDefineXML");
        error.ErrorCode.ShouldBe(LibvirtErrorCode.XmlDetail);
    }

    [Fact]
    public void defining_a_second_domain_with_a_taken_name_is_refused()
    {
        DomainSpec clash = TestDriver.NewSpec() with { Name = "test" };

        var error = Should.Throw<LibvirtException>(() => connection.DefineDomain(DomainXml.Build(clash)));

        error.ErrorCode.ShouldBe(LibvirtErrorCode.OperationFailed);
        error.Message.ShouldBe(
            "operation failed: domain 'test' already exists with uuid 6695eb01-f6a4-8304-79aa-97f2502e193f");
        connection.FindDomain(clash.Uuid).ShouldBeNull();
    }

    [Fact]
    public void a_disposed_connection_is_no_longer_alive_and_refuses_further_calls()
    {
        LibvirtConnection closed = LibvirtConnection.Open(TestDriver.Uri);
        closed.Dispose();
        closed.Dispose();

        closed.IsAlive.ShouldBeFalse();
        Should.Throw<ObjectDisposedException>(() => closed.GetNodeInfo());
        Should.Throw<ObjectDisposedException>(() => closed.FindDomainByName("test"));
    }

    [Fact]
    public void one_connection_serves_many_threads_and_each_thread_gets_its_own_error()
    {
        // libvirt's last error is thread-local: failures on some threads must not leak into
        // the results or error messages of the others.
        using LibvirtDomain running = connection.FindDomainByName("test").ShouldNotBeNull();
        var outcomes = new string[64];

        Parallel.For(0, outcomes.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            switch (i % 3)
            {
                case 0:
                    var error = Should.Throw<LibvirtException>(running.Start);
                    outcomes[i] = error.Message;
                    break;
                case 1:
                    outcomes[i] = connection.FindDomain(Guid.NewGuid()) is null ? "absent" : "present";
                    break;
                default:
                    outcomes[i] = connection.GetNodeInfo().Cpus.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    break;
            }
        });

        for (int i = 0; i < outcomes.Length; i++)
        {
            outcomes[i].ShouldBe(
                (i % 3) switch
                {
                    0 => "internal error: Domain 'test' is already running",
                    1 => "absent",
                    _ => "16",
                },
                $"call {i}");
        }
    }
}
