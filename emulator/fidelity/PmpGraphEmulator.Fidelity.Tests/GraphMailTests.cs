using System.Security.Cryptography;
using System.Text;
using Microsoft.Graph;
using Microsoft.Graph.Models;
using Microsoft.Graph.Models.ODataErrors;
using Microsoft.Graph.Users.Item.Messages.Item.Attachments.CreateUploadSession;
using Microsoft.Graph.Users.Item.SendMail;
using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;
using Xunit;

namespace PmpGraphEmulator.Fidelity.Tests;

/// <summary>The Graph .NET SDK, authenticated by MSAL, sending mail to the emulator.</summary>
[Collection(EmulatorCollection.Name)]
public sealed class GraphMailTests : IDisposable
{
    // Non-ASCII in every position the recorder keeps: subject, body, display names.
    private const string NonAscii = "Grüße, Ærøskøbing – 測試 ✓ 🚀";

    private readonly EmulatorFixture _emu;
    private readonly TrustedMsalHttpClientFactory _msalHttp;
    private readonly HttpClient _graphHttp;
    private readonly MsalAccessTokenProvider _tokens;
    private readonly GraphServiceClient _graph;

    public GraphMailTests(EmulatorFixture emu)
    {
        _emu = emu;
        _msalHttp = new TrustedMsalHttpClientFactory(emu.Ca);
        var app = Msal.Builder(emu, _msalHttp).WithCertificate(emu.AppCertificate).Build();
        _tokens = new MsalAccessTokenProvider(app, [EmulatorFixture.GraphScope], new Uri(emu.GraphRoot).Host);

        // The SDK's own middleware pipeline (retry, redirect, compression, …) over a CA-pinned handler.
        _graphHttp = GraphClientFactory.Create(finalHandler: EmulatorTrust.CreateHandler(emu.Ca));
        _graph = new GraphServiceClient(_graphHttp, new BaseBearerTokenAuthenticationProvider(_tokens), $"{emu.GraphRoot}/v1.0");
    }

    public void Dispose()
    {
        _graphHttp.Dispose();
        _msalHttp.Dispose();
    }

    private static string Sha256Hex(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    private async Task<RecordedMessage> SingleRecordedAsync(string subject)
    {
        var all = await _emu.Control.MessagesAsync();
        var matching = all.Where(m => m.Subject == subject).ToList();
        return Assert.Single(matching);
    }

    [Fact]
    public async Task SendMail_SmallMessageWithAttachment_IsRecordedExactlyOnce()
    {
        var subject = $"Fidelity sendMail {Guid.NewGuid():N} {NonAscii}";
        var bodyText = $"<p>Hello from the Graph SDK. {NonAscii}</p>";
        var smallBytes = Encoding.UTF8.GetBytes($"small attachment {NonAscii}\n");
        var before = await _emu.Control.CountersAsync();

        await _graph.Users[EmulatorFixture.Mailbox].SendMail.PostAsync(new SendMailPostRequestBody
        {
            Message = new Message
            {
                Subject = subject,
                Body = new ItemBody { ContentType = BodyType.Html, Content = bodyText },
                ToRecipients =
                [
                    new Recipient { EmailAddress = new EmailAddress { Address = "ops@example.com", Name = "Öps Team" } },
                    new Recipient { EmailAddress = new EmailAddress { Address = "oncall@example.org" } },
                ],
                CcRecipients = [new Recipient { EmailAddress = new EmailAddress { Address = "audit@example.net" } }],
                Importance = Importance.High,
                InternetMessageHeaders = [new InternetMessageHeader { Name = "x-pmp-fidelity", Value = "small" }],
                Attachments =
                [
                    new FileAttachment
                    {
                        OdataType = "#microsoft.graph.fileAttachment",
                        Name = "notes-ü.txt",
                        ContentType = "text/plain",
                        ContentBytes = smallBytes,
                    },
                ],
            },
            SaveToSentItems = false,
        });

        var m = await SingleRecordedAsync(subject);
        Assert.Equal("sendMail", m.Via);
        Assert.Equal(EmulatorFixture.Mailbox, m.Mailbox, ignoreCase: true);
        Assert.Equal(EmulatorFixture.ClientId, m.AppId);
        Assert.Equal(["ops@example.com", "oncall@example.org"], m.To.Select(r => r.Address));
        Assert.Equal("Öps Team", m.To[0].Name);
        Assert.Equal(["audit@example.net"], m.Cc.Select(r => r.Address));
        Assert.Empty(m.Bcc);
        Assert.Equal(subject, m.Subject);
        Assert.Equal("html", m.BodyContentType);
        Assert.Equal(bodyText, m.Body);
        Assert.Equal("high", m.Importance);
        Assert.False(m.SaveToSentItems);
        Assert.Contains(m.Headers, h => h.Name == "x-pmp-fidelity" && h.Value == "small");
        var att = Assert.Single(m.Attachments);
        Assert.Equal("notes-ü.txt", att.Name);
        Assert.Equal(smallBytes.Length, att.Size);
        Assert.Equal(Sha256Hex(smallBytes), att.Sha256);
        Assert.Equal(smallBytes, Convert.FromBase64String(att.ContentBase64));

        var after = await _emu.Control.CountersAsync();
        Assert.Equal(1, after.SendMailRequests - before.SendMailRequests);
        Assert.Equal(1, after.MessagesAccepted - before.MessagesAccepted);
    }

    [Fact]
    public async Task LargeAttachment_ThroughUploadSession_IsRecordedWithExactBytes()
    {
        var subject = $"Fidelity upload session {Guid.NewGuid():N} {NonAscii}";
        // Not a multiple of the slice size, so the last slice is short.
        var payload = new byte[(3 * 1024 * 1024) + 654_321];
        new Random(20261127).NextBytes(payload);
        const int sliceSize = 4 * 320 * 1024; // the SDK's 320 KiB increment; 3 full slices + 1 short
        var expectedSlices = (payload.Length + sliceSize - 1) / sliceSize;
        var before = await _emu.Control.CountersAsync();
        var requestsBefore = (await _emu.Control.RequestsAsync()).Count;

        // 1. Draft.
        var draft = await _graph.Users[EmulatorFixture.Mailbox].Messages.PostAsync(new Message
        {
            Subject = subject,
            Body = new ItemBody { ContentType = BodyType.Text, Content = $"Large attachment. {NonAscii}" },
            ToRecipients = [new Recipient { EmailAddress = new EmailAddress { Address = "big@example.com", Name = "Bïg" } }],
        });
        Assert.NotNull(draft);
        Assert.False(string.IsNullOrEmpty(draft.Id));
        Assert.True(draft.IsDraft);
        Assert.Equal(subject, draft.Subject);

        // 2. Upload session.
        var session = await _graph.Users[EmulatorFixture.Mailbox].Messages[draft.Id].Attachments.CreateUploadSession
            .PostAsync(new CreateUploadSessionPostRequestBody
            {
                AttachmentItem = new AttachmentItem
                {
                    AttachmentType = AttachmentType.File,
                    Name = "payload-ß.bin",
                    Size = payload.Length,
                    ContentType = "application/octet-stream",
                },
            });
        Assert.NotNull(session);
        Assert.False(string.IsNullOrEmpty(session.UploadUrl));
        Assert.StartsWith(_emu.BaseUrl + "/", session.UploadUrl, StringComparison.Ordinal);

        // 3. Slices. Upload URLs are pre-authenticated: the adapter sends no bearer token,
        //    exactly what LargeFileUploadTask does by default (its own adapter is anonymous).
        using var stream = new MemoryStream(payload, writable: false);
        var uploadAdapter = new HttpClientRequestAdapter(new AnonymousAuthenticationProvider(), httpClient: _graphHttp);
        var task = new LargeFileUploadTask<FileAttachment>(session, stream, sliceSize, uploadAdapter);
        var progress = new List<long>();
        var upload = await task.UploadAsync(new Progress<long>(p => { lock (progress) { progress.Add(p); } }));
        Assert.True(upload.UploadSucceeded, "LargeFileUploadTask did not report success");
        Assert.NotNull(upload.Location);

        // 4. Send the draft.
        await _graph.Users[EmulatorFixture.Mailbox].Messages[draft.Id].Send.PostAsync();

        var m = await SingleRecordedAsync(subject);
        Assert.Equal("draft", m.Via);
        Assert.Equal(EmulatorFixture.ClientId, m.AppId);
        Assert.Equal(["big@example.com"], m.To.Select(r => r.Address));
        Assert.Equal("Bïg", m.To[0].Name);
        Assert.Equal($"Large attachment. {NonAscii}", m.Body);
        var att = Assert.Single(m.Attachments);
        Assert.Equal("payload-ß.bin", att.Name);
        Assert.Equal(payload.Length, att.Size);
        Assert.Equal(Sha256Hex(payload), att.Sha256);

        var after = await _emu.Control.CountersAsync();
        Assert.Equal(1, after.MessagesAccepted - before.MessagesAccepted);
        Assert.Equal(0, after.SendMailRequests - before.SendMailRequests);

        var log = (await _emu.Control.RequestsAsync()).Skip(requestsBefore).ToList();
        var puts = log.Where(r => r.Method == "PUT" && r.Path.StartsWith("/_upload/", StringComparison.Ordinal)).ToList();
        Assert.Equal(expectedSlices, puts.Count);
        Assert.All(puts.SkipLast(1), r => Assert.Equal(200, r.Status));
        Assert.Equal(201, puts[^1].Status);
        Assert.Single(log, r => r.Method == "POST" && r.Path.EndsWith($"/messages/{draft.Id}/send", StringComparison.OrdinalIgnoreCase) && r.Status == 202);
    }

    [Fact]
    public async Task SendMail_Throttled429WithRetryAfter_SdkRetriesAndMessageIsRecordedOnce()
    {
        var subject = $"Fidelity retry {Guid.NewGuid():N}";
        var requestsBefore = (await _emu.Control.RequestsAsync()).Count;
        await _emu.Control.SetFaultsAsync(new
        {
            seed = 1,
            rules = new[]
            {
                new { path = "sendMail", action = "status", status = 429, retryAfterSeconds = 1, graphCode = "ApplicationThrottled", count = 1 },
            },
        });
        try
        {
            await _graph.Users[EmulatorFixture.Mailbox].SendMail.PostAsync(new SendMailPostRequestBody
            {
                Message = new Message
                {
                    Subject = subject,
                    Body = new ItemBody { ContentType = BodyType.Text, Content = NonAscii },
                    ToRecipients = [new Recipient { EmailAddress = new EmailAddress { Address = "ops@example.com" } }],
                },
            });
        }
        finally
        {
            await _emu.Control.ClearFaultsAsync();
        }

        var m = await SingleRecordedAsync(subject);
        Assert.Equal(NonAscii, m.Body);
        Assert.Equal("text", m.BodyContentType);
        // Left unset, Graph SDK 6.x still writes "SaveToSentItems":false on the wire.
        Assert.False(m.SaveToSentItems);
        var sends = (await _emu.Control.RequestsAsync()).Skip(requestsBefore)
            .Where(r => r.Method == "POST" && r.Path.EndsWith("/sendMail", StringComparison.Ordinal))
            .Select(r => r.Status)
            .ToList();
        Assert.Equal([429, 202], sends);
    }

    [Fact]
    public async Task LargeAttachment_SliceFailsOnce_UploadStillExact()
    {
        var subject = $"Fidelity upload retry {Guid.NewGuid():N}";
        var payload = new byte[(3 * 1024 * 1024) + 1];
        new Random(7).NextBytes(payload);
        const int sliceSize = 5 * 320 * 1024;
        var requestsBefore = (await _emu.Control.RequestsAsync()).Count;
        var mailbox = _graph.Users[EmulatorFixture.Mailbox];

        var draft = await mailbox.Messages.PostAsync(new Message
        {
            Subject = subject,
            ToRecipients = [new Recipient { EmailAddress = new EmailAddress { Address = "big@example.com" } }],
        });
        var session = await mailbox.Messages[draft!.Id].Attachments.CreateUploadSession.PostAsync(new CreateUploadSessionPostRequestBody
        {
            AttachmentItem = new AttachmentItem { AttachmentType = AttachmentType.File, Name = "retry.bin", Size = payload.Length },
        });

        // The second slice is answered 503 once.
        await _emu.Control.SetFaultsAsync(new
        {
            seed = 1,
            rules = new[] { new { path = "upload", action = "status", status = 503, retryAfterSeconds = 1, skip = 1, count = 1 } },
        });
        try
        {
            using var stream = new MemoryStream(payload, writable: false);
            var uploadAdapter = new HttpClientRequestAdapter(new AnonymousAuthenticationProvider(), httpClient: _graphHttp);
            var upload = await new LargeFileUploadTask<FileAttachment>(session!, stream, sliceSize, uploadAdapter).UploadAsync();
            Assert.True(upload.UploadSucceeded);
        }
        finally
        {
            await _emu.Control.ClearFaultsAsync();
        }

        await mailbox.Messages[draft.Id].Send.PostAsync();

        var m = await SingleRecordedAsync(subject);
        var att = Assert.Single(m.Attachments);
        Assert.Equal(payload.Length, att.Size);
        Assert.Equal(Sha256Hex(payload), att.Sha256);
        var puts = (await _emu.Control.RequestsAsync()).Skip(requestsBefore)
            .Where(r => r.Method == "PUT" && r.Path.StartsWith("/_upload/", StringComparison.Ordinal))
            .Select(r => r.Status)
            .ToList();
        Assert.Contains(503, puts);
        Assert.Equal(201, puts[^1]);
    }

    [Fact]
    public async Task SendMail_UnknownMailbox_SurfacesODataError()
    {
        var ex = await Assert.ThrowsAsync<ODataError>(() => _graph.Users["nobody@fidelity.onmicrosoft.com"].SendMail.PostAsync(
            new SendMailPostRequestBody
            {
                Message = new Message
                {
                    Subject = "never recorded",
                    Body = new ItemBody { ContentType = BodyType.Text, Content = "x" },
                    ToRecipients = [new Recipient { EmailAddress = new EmailAddress { Address = "ops@example.com" } }],
                },
            }));

        Assert.Equal(404, ex.ResponseStatusCode);
        Assert.Equal("ErrorInvalidUser", ex.Error?.Code);
        Assert.DoesNotContain(await _emu.Control.MessagesAsync(), m => m.Subject == "never recorded");
    }

    [Fact]
    public async Task BearerToken_FromMsal_IsSentOnGraphCalls()
    {
        var app = Msal.Builder(_emu, _msalHttp).WithClientSecret(EmulatorFixture.ClientSecret).Build();
        var tokens = new MsalAccessTokenProvider(app, [EmulatorFixture.GraphScope], "graph.example.invalid");
        using var http = GraphClientFactory.Create(finalHandler: EmulatorTrust.CreateHandler(_emu.Ca));
        var graph = new GraphServiceClient(http, new BaseBearerTokenAuthenticationProvider(tokens), $"{_emu.GraphRoot}/v1.0");

        // The provider's allowed hosts exclude the emulator, so no token is attached: Graph must say 401.
        var ex = await Assert.ThrowsAsync<ODataError>(() => graph.Users[EmulatorFixture.Mailbox].SendMail.PostAsync(
            new SendMailPostRequestBody
            {
                Message = new Message
                {
                    Subject = "unauthenticated",
                    ToRecipients = [new Recipient { EmailAddress = new EmailAddress { Address = "ops@example.com" } }],
                },
            }));
        Assert.Equal(401, ex.ResponseStatusCode);
        Assert.Equal(0, tokens.Calls);
    }
}
