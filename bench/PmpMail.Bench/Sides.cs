using Microsoft.Graph;
using Microsoft.Graph.Models;
using Microsoft.Graph.Users.Item.Messages.Item.Attachments.CreateUploadSession;
using Microsoft.Graph.Users.Item.SendMail;
using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;
using PmpMail.Interop;

namespace PmpMail.Bench;

/// <summary>One way of sending mail through the emulator. Thread-safe: the concurrent scenario shares one instance.</summary>
internal interface IMailSide : IAsyncDisposable
{
    /// <summary>Text body, one recipient, one small attachment: Graph sendMail in one request.</summary>
    ValueTask SendSmallAsync(string subject, byte[] attachment);

    /// <summary>One large attachment held in memory: draft + upload session + send.</summary>
    ValueTask SendLargeAsync(string subject, byte[] payload);

    /// <summary>One large attachment from a file, the way each library takes a file.</summary>
    ValueTask SendLargeFileAsync(string subject, string path);
}

/// <summary>Content shared by both sides so they put the same bytes on the wire.</summary>
internal static class Mail
{
    public const string To = "ops@example.com";
    public const string SmallName = "data.bin";
    public const string LargeName = "large.bin";
    public const string ContentType = "application/octet-stream";
    public const int SliceSize = 12 * 320 * 1024; // pmp-mail's chunk size (src/mail/upload.rs); a 320 KiB multiple below 4 MiB

    public static readonly string Body =
        "Nightly patch report for host bench-01.\nAll 42 updates installed; no reboot pending.\n" +
        "This text is the same for both sides of the benchmark.";
}

/// <summary>pmp-mail through PmpMail.Interop: one native client, blocking sends.</summary>
internal sealed class PmpSide : IMailSide
{
    private readonly PmpMailClient _client;

    public PmpSide(Emulator emu)
    {
        var config = new PmpMailConfig(Emulator.TenantId, Emulator.ClientId)
        {
            Credential = PmpMailCredential.FromClientSecret(Emulator.Secret),
            AuthorityHost = new Uri(emu.AuthorityHost),
            GraphRoot = new Uri(emu.GraphRoot),
            Http = new PmpMailHttpOptions { ExtraCaCertificatesPem = emu.CaPem, TimeoutSeconds = 120 },
        };
        _client = PmpMailClient.Create(config);
    }

    public ValueTask SendSmallAsync(string subject, byte[] attachment)
    {
        var m = NewMessage(subject);
        m.Attachments.Add(PmpMailAttachment.FromBytes(Mail.SmallName, attachment, Mail.ContentType));
        var r = _client.SendMail(m);
        return r.Status == "sent"
            ? ValueTask.CompletedTask
            : throw new InvalidOperationException($"pmp-mail returned status '{r.Status}'");
    }

    // PmpMail.Interop pins the array and hands it over as a buffer (pmp_send_mail_with_buffers): no managed copy,
    // no base64; the native library copies it once.
    public ValueTask SendLargeAsync(string subject, byte[] payload) =>
        SendLarge(subject, PmpMailAttachment.FromBytes(Mail.LargeName, payload, Mail.ContentType));

    // The native library reads the file itself: no managed copy of the bytes.
    public ValueTask SendLargeFileAsync(string subject, string path) => SendLarge(subject, PmpMailAttachment.FromFile(path));

    private ValueTask SendLarge(string subject, PmpMailAttachment attachment)
    {
        var m = NewMessage(subject);
        m.Attachments.Add(attachment);
        var r = _client.SendMail(m);
        if (r.Status != "sent" || !r.UploadSession)
        {
            throw new InvalidOperationException($"pmp-mail returned status '{r.Status}', uploadSession={r.UploadSession}");
        }

        return ValueTask.CompletedTask;
    }

    private static PmpMailMessage NewMessage(string subject)
    {
        var m = new PmpMailMessage { From = Emulator.Mailbox, Subject = subject, Body = Mail.Body, SaveToSentItems = true };
        m.To.Add(Mail.To);
        return m;
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// The peer: Microsoft Graph .NET SDK with MSAL.NET's ConfidentialClientApplication as the token
/// source (client secret, in-memory app token cache), set up as emulator/fidelity does.
/// </summary>
internal sealed class GraphSide : IMailSide
{
    private readonly TrustedMsalHttpClientFactory _msalHttp;
    private readonly HttpClient _graphHttp;
    private readonly GraphServiceClient _graph;

    public GraphSide(Emulator emu)
    {
        // MSAL's HTTP: one HttpClient that trusts only the emulator CA (nothing recorded).
        _msalHttp = new TrustedMsalHttpClientFactory(emu.Ca, record: false);
        var app = EmulatorMsal.Builder(emu.AuthorityHost, Emulator.TenantId, Emulator.ClientId, _msalHttp)
            .WithClientSecret(Emulator.Secret)
            .Build();
        var tokens = new MsalAccessTokenProvider(app, [Emulator.GraphScope], new Uri(emu.GraphRoot).Host);

        // The SDK's own middleware pipeline (retry, redirect, compression, ...) over a CA-pinned handler.
        _graphHttp = GraphClientFactory.Create(finalHandler: EmulatorTrust.CreateHandler(emu.Ca));
        _graphHttp.Timeout = TimeSpan.FromSeconds(120);
        _graph = new GraphServiceClient(_graphHttp, new BaseBearerTokenAuthenticationProvider(tokens), $"{emu.GraphRoot}/v1.0");
    }

    /// <summary>The SDK client, for scenarios that call it directly (bulk).</summary>
    public GraphServiceClient Client => _graph;

    public async ValueTask SendSmallAsync(string subject, byte[] attachment)
    {
        var message = NewMessage(subject);
        message.Attachments =
        [
            new FileAttachment
            {
                OdataType = "#microsoft.graph.fileAttachment",
                Name = Mail.SmallName,
                ContentType = Mail.ContentType,
                ContentBytes = attachment,
            },
        ];
        await _graph.Users[Emulator.Mailbox].SendMail.PostAsync(new SendMailPostRequestBody
        {
            Message = message,
            SaveToSentItems = true,
        }).ConfigureAwait(false);
    }

    public async ValueTask SendLargeAsync(string subject, byte[] payload)
    {
        using var stream = new MemoryStream(payload, writable: false);
        await SendLargeAsync(subject, stream, Mail.LargeName).ConfigureAwait(false);
    }

    // LargeFileUploadTask reads slices straight from the file stream.
    public async ValueTask SendLargeFileAsync(string subject, string path)
    {
        await using var stream = File.OpenRead(path);
        await SendLargeAsync(subject, stream, Path.GetFileName(path)).ConfigureAwait(false);
    }

    private async Task SendLargeAsync(string subject, Stream stream, string name)
    {
        // What the SDK documents for attachments of 3 MB or more: draft, upload session, slices, send.
        var mailbox = _graph.Users[Emulator.Mailbox];
        var draft = await mailbox.Messages.PostAsync(NewMessage(subject)).ConfigureAwait(false)
            ?? throw new InvalidOperationException("Graph SDK: no draft returned");
        var session = await mailbox.Messages[draft.Id].Attachments.CreateUploadSession.PostAsync(new CreateUploadSessionPostRequestBody
        {
            AttachmentItem = new AttachmentItem
            {
                AttachmentType = AttachmentType.File,
                Name = name,
                Size = stream.Length,
                ContentType = Mail.ContentType,
            },
        }).ConfigureAwait(false) ?? throw new InvalidOperationException("Graph SDK: no upload session returned");

        // Upload URLs are pre-authenticated: an anonymous adapter over the same HttpClient.
        var adapter = new HttpClientRequestAdapter(new AnonymousAuthenticationProvider(), httpClient: _graphHttp);
        var task = new LargeFileUploadTask<FileAttachment>(session, stream, Mail.SliceSize, adapter);
        var upload = await task.UploadAsync().ConfigureAwait(false);
        if (!upload.UploadSucceeded)
        {
            throw new InvalidOperationException("Graph SDK: LargeFileUploadTask did not report success");
        }

        await mailbox.Messages[draft.Id].Send.PostAsync().ConfigureAwait(false);
    }

    private static Message NewMessage(string subject) => new()
    {
        Subject = subject,
        Body = new ItemBody { ContentType = BodyType.Text, Content = Mail.Body },
        ToRecipients = [new Recipient { EmailAddress = new EmailAddress { Address = Mail.To } }],
    };

    public ValueTask DisposeAsync()
    {
        _graphHttp.Dispose();
        _msalHttp.Dispose();
        return ValueTask.CompletedTask;
    }
}
