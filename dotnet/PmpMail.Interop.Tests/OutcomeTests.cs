using System.Text.Json.Nodes;
using Xunit;

namespace PmpMail.Interop.Tests;

/// <summary>
/// The failures a host must tell apart (README "Outcome unknown", "Throttling"): each test sets a fault plan
/// on a freshly reset emulator and checks the typed exception against what the emulator actually received.
/// </summary>
[Collection(EmulatorCollection.Name)]
public sealed class OutcomeTests : IDisposable
{
    private readonly EmulatorFixture _emulator;

    public OutcomeTests(EmulatorFixture emulator)
    {
        _emulator = emulator;
        _emulator.Reset();
    }

    public void Dispose() => _emulator.ClearFaults();

    [Fact]
    public void AnswerLostAfterGraphAcceptedIsOutcomeUnknownAndNotResent()
    {
        _emulator.SetFaults(new { path = "sendMail", action = "dropAfterAccept", count = 1 });
        using PmpMailClient client = PmpMailClient.Create(_emulator.SecretConfig());
        string subject = "xunit lost answer " + Guid.NewGuid();

        var ex = Assert.Throws<PmpMailOutcomeUnknownException>(() => client.SendMail(NewMessage(subject)));
        Assert.Equal(PmpStatus.OutcomeUnknown, ex.Status);
        Assert.Equal((uint)PmpStatus.OutcomeUnknown, ex.Detail.Status);
        Assert.Equal("PMP_STATUS_OUTCOME_UNKNOWN", ex.Detail.StatusName);
        Assert.Equal("unknown", ex.Detail.Outcome);
        Assert.Equal("outcomeUnknown", ex.Category);
        Assert.False(string.IsNullOrEmpty(ex.Detail.ClientRequestId));

        // Graph did accept it: exactly one copy arrived, the one with our client-request-id, and no retry was made.
        JsonNode recorded = Assert.Single(_emulator.Messages())!;
        Assert.Equal(subject, (string?)recorded["subject"]);
        Assert.Equal(ex.Detail.ClientRequestId, (string?)recorded["clientRequestId"]);
        JsonObject counters = _emulator.Counters();
        Assert.Equal(1, (int)counters["sendMailRequests"]!);
        Assert.Equal(1, (int)counters["messagesAccepted"]!);
    }

    [Fact]
    public void ThrottlingBeyondTheRetryBudgetIsThrottledAndSendsNothing()
    {
        _emulator.SetFaults(new { path = "sendMail", action = "status", status = 429, retryAfterSeconds = 1, count = 10 });
        PmpMailConfig config = _emulator.SecretConfig();
        config.Retry = new PmpMailRetryOptions { MaxAttempts = 2 };
        using PmpMailClient client = PmpMailClient.Create(config);

        var ex = Assert.Throws<PmpMailThrottledException>(() => client.SendMail(NewMessage("xunit throttled " + Guid.NewGuid())));
        Assert.Equal(PmpStatus.Throttled, ex.Status);
        Assert.Equal("PMP_STATUS_THROTTLED", ex.Detail.StatusName);
        Assert.Equal(429, ex.Detail.HttpStatus);
        Assert.Equal(1.0, ex.Detail.RetryAfterSeconds);
        Assert.Equal(TimeSpan.FromSeconds(1), ex.RetryAfter);
        Assert.Equal(2, ex.Detail.Attempts);

        // Two 429s (retry.maxAttempts), and nothing was accepted.
        Assert.Empty(_emulator.Messages());
        JsonObject counters = _emulator.Counters();
        Assert.Equal(2, (int)counters["sendMailRequests"]!);
        Assert.Equal(0, (int)counters["messagesAccepted"]!);
    }

    [Fact]
    public void CancellationTokenStopsAThrottledSendAndSendsNothing()
    {
        _emulator.SetFaults(new { path = "sendMail", action = "status", status = 429, retryAfterSeconds = 30, count = 10 });
        PmpMailConfig config = _emulator.SecretConfig();
        config.Retry = new PmpMailRetryOptions { MaxTotalWaitSeconds = 120 };
        using PmpMailClient client = PmpMailClient.Create(config);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var ex = Assert.Throws<PmpMailCancelledException>(() => client.SendMail(NewMessage("xunit cancelled " + Guid.NewGuid()), cts.Token));
        // A hang guard, not a timing claim: the Retry-After is 30 s.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), watch.Elapsed.ToString());
        Assert.Equal(PmpStatus.Cancelled, ex.Status);
        Assert.Equal("PMP_STATUS_CANCELLED", ex.Detail.StatusName);
        Assert.Equal("cancelled", ex.Category);
        Assert.Equal("failed", ex.Outcome);

        Assert.Empty(_emulator.Messages());
        Assert.Equal(1, (int)_emulator.Counters()["sendMailRequests"]!);

        // A token cancelled before the call: no request at all.
        Assert.Throws<PmpMailCancelledException>(() => client.SendMail(NewMessage("xunit cancelled early"), cts.Token));
        Assert.Throws<PmpMailCancelledException>(() => client.TestPermissions(false, cts.Token));
        Assert.Equal(1, (int)_emulator.Counters()["sendMailRequests"]!);
    }

    private static PmpMailMessage NewMessage(string subject)
    {
        var message = new PmpMailMessage { From = EmulatorFixture.Mailbox, Subject = subject, Body = "body" };
        message.To.Add("ops@contoso.com");
        return message;
    }
}
