using System.Collections.Concurrent;
using Xunit;

namespace PmpMail.Interop.Tests;

/// <summary>
/// <see cref="PmpMailLog"/>: the native log callback, so a host sees a retry's wait while the call is still waiting
/// (the result's Log only comes at the end).
/// </summary>
[Collection(EmulatorCollection.Name)]
public sealed class LogTests(EmulatorFixture emulator)
{
    [Fact]
    public void ASubscriberSeesTheTokenEndpointsRetryWaitBeforeTheCallReturns()
    {
        emulator.Reset();
        emulator.SetFaults(new { path = "token", action = "status", status = 429, retryAfterSeconds = 1, count = 1 });
        var seen = new ConcurrentQueue<(PmpLogLevel Level, string Message, DateTime At)>();
        using var client = PmpMailClient.Create(emulator.SecretConfig());
        PmpPermissionReport report;
        DateTime returned;
        using (PmpMailLog.Subscribe((level, message) => seen.Enqueue((level, message, DateTime.UtcNow))))
        {
            report = client.TestPermissions(forceRefresh: true);
            returned = DateTime.UtcNow;
        }

        Assert.True(report.Authenticated, report.Error?.Message);
        var wait = Assert.Single(seen, e => e.Message.Contains("HTTP 429") && e.Message.Contains("retrying in"));
        Assert.Equal(PmpLogLevel.Info, wait.Level);
        Assert.True(returned - wait.At >= TimeSpan.FromMilliseconds(500), "the wait was announced before it was over");
        Assert.Contains(wait.Message, report.Log);

        // After the subscription ends nothing more arrives.
        int count = seen.Count;
        client.TestPermissions(forceRefresh: true);
        Assert.Equal(count, seen.Count);
    }
}
