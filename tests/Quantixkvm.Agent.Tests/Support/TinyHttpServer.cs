using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Quantixkvm.Agent.Tests.Support;

/// <summary>
/// A one-file HTTP/1.1 server on a loopback port the kernel picks: answers every GET with the body (or
/// 404 for other paths), one connection at a time. Enough to import from, and nothing to configure.
/// With <c>stallAfter</c> it sends only that many bytes of the body and then waits until disposed.
/// </summary>
public sealed class TinyHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;

    public TinyHttpServer(string path, byte[] body, int? stallAfter = null)
    {
        _listener.Start();
        Url = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}{path}";
        _serving = ServeAsync(path, body, stallAfter);
    }

    public string Url { get; }

    public int Requests { get; private set; }

    private async Task ServeAsync(string path, byte[] body, int? stallAfter)
    {
        while (!_stop.IsCancellationRequested)
        {
            using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            await using var stream = client.GetStream();
            var request = new StringBuilder();
            var buffer = new byte[4096];
            while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    break;
                }

                request.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }

            Requests++;
            var found = request.ToString().StartsWith($"GET {path} ", StringComparison.Ordinal);
            var content = found ? body : "not here"u8.ToArray();
            var head = $"HTTP/1.1 {(found ? "200 OK" : "404 Not Found")}\r\nContent-Length: {content.Length}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head), _stop.Token);
            if (found && stallAfter is int sent)
            {
                await stream.WriteAsync(content.AsMemory(0, sent), _stop.Token);
                await stream.FlushAsync(_stop.Token);
                await Task.Delay(Timeout.Infinite, _stop.Token);
            }

            await stream.WriteAsync(content, _stop.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _serving;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }
}
