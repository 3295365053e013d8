using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace PmpMail.Interop.Tests;

/// <summary>
/// What a host relies on when it sends through Gmail (issue 13's test list): attachments byte-exact on the raw and the
/// resumable path, non-ASCII intact, throttling waited out, a lost answer reported as unknown and never resent, one
/// token per user under concurrency, and the private key in no output. Each test takes a new key, so its token cache is
/// cold; the emulator is shared, so counts are taken before and after.
/// </summary>
[Collection(EmulatorCollection.Name)]
public sealed class GoogleSendTests : IDisposable
{
    private const string GmailSendPath = "/gmail/v1/users/me/messages/send";
    private readonly EmulatorFixture _emulator;

    public GoogleSendTests(EmulatorFixture emulator)
    {
        _emulator = emulator;
        _emulator.ClearFaults();
    }

    public void Dispose() => _emulator.ClearFaults();

    private PmpMailClient NewClient(out string keyJson, PmpMailRetryOptions? retry = null)
    {
        keyJson = _emulator.GoogleServiceAccountKey(EmulatorFixture.GoogleServiceAccount);
        PmpMailConfig config = _emulator.GoogleConfig(PmpMailCredential.FromServiceAccountKeyJson(keyJson));
        config.Retry = retry;
        return PmpMailClient.Create(config);
    }

    private PmpMailClient NewClient() => NewClient(out _);

    private static PmpMailMessage Message(string subject, string from = EmulatorFixture.GoogleUser)
    {
        var message = new PmpMailMessage { From = from, Subject = subject, Body = "through Gmail" };
        message.To.Add("someone@elsewhere.example");
        return message;
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    private JsonNode[] Recorded(string subject) => _emulator.Messages().Where(m => (string?)m!["subject"] == subject).Select(m => m!).ToArray();

    private int GmailSendRequests() => _emulator.Requests().Count(r => ((string?)r!["path"])?.Contains(GmailSendPath, StringComparison.Ordinal) == true);

    [Fact]
    public void SmallAndLargeAttachmentsWithNonAsciiNamesArriveByteExactThroughTheResumableUpload()
    {
        // 6 MiB: above the 5 MiB the multipart upload takes, so the message goes through a resumable session.
        byte[] large = RandomNumberGenerator.GetBytes(6 * 1024 * 1024 + 5);
        byte[] small = RandomNumberGenerator.GetBytes(1_000);
        string subject = "Größe – 漢字 ✓ " + Guid.NewGuid().ToString("N");
        PmpSendResult result;
        using (PmpMailClient client = NewClient())
        {
            var message = new PmpMailMessage { From = "Zoë Ärger <" + EmulatorFixture.GoogleUser + ">", Subject = subject, Body = "Grüße – naïve ✓" };
            message.To.Add("Jörg Müller <joerg@elsewhere.example>");
            message.Attachments.Add(PmpMailAttachment.FromBytes("klein ü.bin", small));
            message.Attachments.Add(PmpMailAttachment.FromBytes("groß 日本.bin", large));
            result = client.SendMail(message);
        }

        Assert.Equal("sent", result.Status);
        Assert.True(result.UploadSession);
        JsonNode recorded = Assert.Single(Recorded(subject));
        Assert.Equal("gmail:resumable", (string?)recorded["via"]);
        Assert.Equal("Zoë Ärger", (string?)recorded["from"]!["name"]);
        Assert.Equal("Jörg Müller", (string?)recorded["to"]![0]!["name"]);
        Assert.Contains("Grüße – naïve ✓", (string?)recorded["body"], StringComparison.Ordinal);
        JsonArray attachments = recorded["attachments"]!.AsArray();
        Assert.Equal(2, attachments.Count);
        JsonNode Named(string name) => Assert.Single(attachments, a => (string?)a!["name"] == name)!;
        Assert.Equal(Sha256(small), (string?)Named("klein ü.bin")["sha256"]);
        Assert.Equal(large.Length, (int)Named("groß 日本.bin")["size"]!);
        Assert.Equal(Sha256(large), (string?)Named("groß 日本.bin")["sha256"]);
    }

    [Theory]
    [InlineData(429, "rateLimitExceeded", 1)]
    [InlineData(403, "userRateLimitExceeded", null)]
    public void ThrottlingIsWaitedOutAndTheMessageSentOnce(int status, string reason, int? retryAfterSeconds)
    {
        using PmpMailClient client = NewClient();
        _emulator.SetFaults(new { path = "gmailSend", action = "status", status, graphCode = reason, retryAfterSeconds, count = 1 });
        string subject = $"Gmail throttled {reason} " + Guid.NewGuid().ToString("N");

        PmpSendResult result = client.SendMail(Message(subject));

        Assert.Equal("sent", result.Status);
        Assert.Equal(2, result.Attempts);
        // The result reports the wait: Retry-After when Gmail sent one, else Gmail's backoff (1 s, 2 s, ...).
        Assert.True(result.Waited >= TimeSpan.FromSeconds(retryAfterSeconds ?? 0) && result.Waited > TimeSpan.Zero, result.Waited.ToString());
        Assert.Contains(result.Log, l => l.Contains($"HTTP {status}", StringComparison.Ordinal) && l.Contains("retrying in", StringComparison.Ordinal));
        Assert.Single(Recorded(subject));
    }

    [Fact]
    public void AnAnswerLostAfterGmailAcceptedIsOutcomeUnknownAndNeverResent()
    {
        using PmpMailClient client = NewClient();
        _emulator.SetFaults(new { path = "gmailSend", method = "POST", action = "dropAfterAccept", count = 1 });
        string subject = "Gmail lost answer " + Guid.NewGuid().ToString("N");
        int dropped = (int)_emulator.Counters()["droppedAfterAccept"]!;
        int sends = GmailSendRequests();

        var ex = Assert.Throws<PmpMailOutcomeUnknownException>(() => client.SendMail(Message(subject)));

        Assert.Equal(PmpStatus.OutcomeUnknown, ex.Status);
        Assert.Equal("PMP_STATUS_OUTCOME_UNKNOWN", ex.Detail.StatusName);
        Assert.Equal("unknown", ex.Detail.Outcome);
        Assert.Contains("Sent mail", ex.Remedy ?? string.Empty, StringComparison.Ordinal);
        // Gmail accepted it once; the dropped request is not in the request log, a resend would be.
        Assert.Single(Recorded(subject));
        Assert.Equal(dropped + 1, (int)_emulator.Counters()["droppedAfterAccept"]!);
        Assert.Equal(sends, GmailSendRequests());
    }

    [Fact]
    public void EightConcurrentSendsAsTwoUsersGetOneTokenPerUser()
    {
        string[] users = [EmulatorFixture.GoogleUser, EmulatorFixture.GoogleUserB];
        int[] before = users.Select(u => _emulator.GoogleTokensIssued(EmulatorFixture.GoogleServiceAccount, u)).ToArray();
        string run = Guid.NewGuid().ToString("N");
        var failures = new ConcurrentQueue<Exception>();
        using (PmpMailClient client = NewClient())
        {
            // Own threads and a barrier: all eight ask for a token at once, none of them cached yet.
            using var start = new Barrier(8);
            Thread[] threads = Enumerable.Range(0, 8).Select(i => new Thread(() =>
            {
                start.SignalAndWait();
                try
                {
                    client.SendMail(Message($"Gmail concurrent {i} {run}", users[i % 2]));
                }
                catch (Exception e)
                {
                    failures.Enqueue(e);
                }
            })).ToArray();
            foreach (Thread thread in threads)
            {
                thread.Start();
            }

            foreach (Thread thread in threads)
            {
                thread.Join();
            }
        }

        Assert.Empty(failures);
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(users[i % 2], (string?)Assert.Single(Recorded($"Gmail concurrent {i} {run}"))["mailbox"]);
        }

        for (int u = 0; u < users.Length; u++)
        {
            Assert.Equal(before[u] + 1, _emulator.GoogleTokensIssued(EmulatorFixture.GoogleServiceAccount, users[u]));
        }
    }

    [Fact]
    public void ThePrivateKeyIsInNoResultReportExceptionOrLogLine()
    {
        var outputs = new ConcurrentQueue<string>();
        string keyJson;
        using (PmpMailLog.Subscribe((_, message) => outputs.Enqueue(message)))
        {
            using (PmpMailClient client = NewClient(out keyJson))
            {
                outputs.Enqueue(JsonSerializer.Serialize(client.SendMail(Message("Gmail leak check " + Guid.NewGuid().ToString("N")))));
                outputs.Enqueue(JsonSerializer.Serialize(client.TestPermissions(EmulatorFixture.GoogleUser)));
                _emulator.SetFaults(new { path = "gmailSend", action = "dropAfterAccept", count = 1 });
                outputs.Enqueue(Assert.Throws<PmpMailOutcomeUnknownException>(() => client.SendMail(Message("Gmail leak check, lost"))).ToString());
                _emulator.ClearFaults();
            }

            // A key whose account has no delegation: the report and the send's exception.
            string undelegated = _emulator.GoogleServiceAccountKey(EmulatorFixture.GoogleUndelegatedAccount);
            using (PmpMailClient client = PmpMailClient.Create(_emulator.GoogleConfig(PmpMailCredential.FromServiceAccountKeyJson(undelegated))))
            {
                outputs.Enqueue(JsonSerializer.Serialize(client.TestPermissions(EmulatorFixture.GoogleUser)));
                PmpMailPermissionException denied = Assert.Throws<PmpMailPermissionException>(() => client.SendMail(Message("never")));
                outputs.Enqueue(denied.ToString());
                outputs.Enqueue(JsonSerializer.Serialize(denied.Detail));
            }

            // A key file cut short: the error says where, never what.
            PmpMailException broken = Assert.ThrowsAny<PmpMailException>(() => PmpMailClient.Create(
                _emulator.GoogleConfig(PmpMailCredential.FromServiceAccountKeyJson(keyJson[..^20]))));
            outputs.Enqueue(broken.ToString());
            outputs.Enqueue(JsonSerializer.Serialize(broken.Detail));
        }

        string pem = (string)JsonNode.Parse(keyJson)!["private_key"]!;
        string[] keyLines = pem.Split('\n').Where(l => l.Length > 40).ToArray();
        Assert.NotEmpty(keyLines);
        Assert.True(outputs.Count > 8, "the log subscription saw the calls");
        foreach (string output in outputs)
        {
            Assert.DoesNotContain("PRIVATE KEY", output, StringComparison.Ordinal);
            Assert.DoesNotContain("ya29.", output, StringComparison.Ordinal);
            Assert.All(keyLines, line => Assert.DoesNotContain(line, output, StringComparison.Ordinal));
        }
    }
}
