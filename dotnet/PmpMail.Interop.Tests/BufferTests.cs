using System.Security.Cryptography;
using System.Text.Json.Nodes;
using PmpMail.Interop.Native;
using Xunit;

namespace PmpMail.Interop.Tests;

/// <summary>
/// In-memory attachments go to the native library as pinned buffers (<c>pmp_send_mail_with_buffers</c>), not as
/// base64 in the message document: byte-exact on both of Graph's paths, with and without a cancellation token, and
/// without a managed copy of the bytes.
/// </summary>
[Collection(EmulatorCollection.Name)]
public sealed class BufferTests(EmulatorFixture emulator)
{
    private static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static PmpMailMessage NewMessage(string subject)
    {
        var message = new PmpMailMessage { From = EmulatorFixture.Mailbox, Subject = subject };
        message.To.Add("ops@contoso.com");
        return message;
    }

    private JsonNode Recorded(string subject) => emulator.Messages().Single(m => (string?)m!["subject"] == subject)!;

    private static JsonNode Attachment(JsonNode message, string name) =>
        message["attachments"]!.AsArray().Single(a => (string?)a!["name"] == name)!;

    [Fact]
    public void TheDocumentNamesBuffersInOrderAndKeepsPathsAsJson()
    {
        PmpMailMessage message = NewMessage("document");
        message.Attachments.Add(PmpMailAttachment.FromBytes("a.bin", new byte[] { 1 }));
        message.Attachments.Add(PmpMailAttachment.FromFile("/tmp/report.csv"));
        message.Attachments.Add(PmpMailAttachment.FromBytes("b.bin", ReadOnlyMemory<byte>.Empty, "text/plain", "cid-b"));
        using var buffer = new SensitiveBufferWriter();
        DocumentWriter.WriteMessage(buffer, message);
        JsonArray attachments = JsonNode.Parse(buffer.WrittenSpan.ToArray())!["attachments"]!.AsArray();
        Assert.Equal("""{"name":"a.bin","buffer":0}""", attachments[0]!.ToJsonString());
        Assert.Equal("""{"path":"/tmp/report.csv"}""", attachments[1]!.ToJsonString());
        Assert.Equal("""{"name":"b.bin","buffer":1,"contentType":"text/plain","contentId":"cid-b"}""", attachments[2]!.ToJsonString());
        Assert.DoesNotContain("contentBase64", System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
        Assert.Equal(2, DocumentWriter.InMemory(message).Count);
    }

    [Fact]
    public void ABatchDocumentNumbersBuffersAcrossItsMessages()
    {
        PmpMailMessage first = NewMessage("batch document 1");
        first.Attachments.Add(PmpMailAttachment.FromBytes("a.bin", new byte[] { 1 }));
        PmpMailMessage second = NewMessage("batch document 2");
        second.Attachments.Add(PmpMailAttachment.FromFile("/tmp/report.csv"));
        second.Attachments.Add(PmpMailAttachment.FromBytes("b.bin", new byte[] { 2, 3 }));
        using var buffer = new SensitiveBufferWriter();
        List<ReadOnlyMemory<byte>> contents = DocumentWriter.WriteMessages(buffer, [first, second]);
        JsonArray messages = JsonNode.Parse(buffer.WrittenSpan.ToArray())!.AsArray();
        Assert.Equal("""{"name":"a.bin","buffer":0}""", messages[0]!["attachments"]![0]!.ToJsonString());
        Assert.Equal("""{"name":"b.bin","buffer":1}""", messages[1]!["attachments"]![1]!.ToJsonString());
        Assert.DoesNotContain("contentBase64", System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
        Assert.Equal([new byte[] { 1 }, new byte[] { 2, 3 }], contents.Select(c => c.ToArray()));
    }

    [Fact]
    public void SmallBuffersArriveByteExactInOneSendMail()
    {
        byte[] whole = RandomBytes(200_000, 1);
        var slice = new ReadOnlyMemory<byte>(whole, 1000, 50_000);
        byte[] logo = RandomBytes(3000, 2);
        string path = Path.Combine(Path.GetTempPath(), $"pmp-buffers-{Guid.NewGuid():n}.txt");
        File.WriteAllText(path, "from a file");
        try
        {
            string subject = "buffers small " + Guid.NewGuid();
            PmpMailMessage message = NewMessage(subject);
            message.BodyAsHtml = true;
            message.Body = "<img src=\"cid:logo\">";
            message.Attachments.Add(PmpMailAttachment.FromBytes("whole.bin", whole));
            message.Attachments.Add(PmpMailAttachment.FromFile(path, name: "file.txt"));
            message.Attachments.Add(PmpMailAttachment.FromBytes("slice.bin", slice, "application/x-slice"));
            message.Attachments.Add(PmpMailAttachment.FromBytes("logo.png", logo, contentId: "logo"));
            using PmpMailClient client = PmpMailClient.Create(emulator.SecretConfig());
            PmpSendResult result = client.SendMail(message);
            Assert.False(result.UploadSession);

            JsonNode recorded = Recorded(subject);
            Assert.Equal("sendMail", (string?)recorded["via"]);
            Assert.Equal(Sha256(whole), (string?)Attachment(recorded, "whole.bin")["sha256"]);
            Assert.Equal(Sha256(slice.Span), (string?)Attachment(recorded, "slice.bin")["sha256"]);
            Assert.Equal("application/x-slice", (string?)Attachment(recorded, "slice.bin")["contentType"]);
            Assert.Equal(Sha256("from a file"u8), (string?)Attachment(recorded, "file.txt")["sha256"]);
            Assert.Equal(Sha256(logo), (string?)Attachment(recorded, "logo.png")["sha256"]);
            Assert.True((bool?)Attachment(recorded, "logo.png")["isInline"]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LargeBuffersGoThroughAnUploadSessionWithoutAManagedCopy(bool cancellable)
    {
        byte[] big = RandomBytes((5 * 1024 * 1024) + 11, 3);
        string subject = $"buffers large {cancellable} {Guid.NewGuid()}";
        PmpMailMessage message = NewMessage(subject);
        message.Attachments.Add(PmpMailAttachment.FromBytes("big.bin", big));
        using PmpMailClient client = PmpMailClient.Create(emulator.SecretConfig());
        using var source = new CancellationTokenSource();
        client.TestPermissions(); // the token request is not what is measured

        long before = GC.GetAllocatedBytesForCurrentThread();
        PmpSendResult result = cancellable ? client.SendMail(message, source.Token) : client.SendMail(message);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(result.UploadSession);
        JsonNode attachment = Attachment(Recorded(subject), "big.bin");
        Assert.Equal(big.Length, (long)attachment["size"]!);
        Assert.Equal(Sha256(big), (string?)attachment["sha256"]);
        // Base64 in the document cost ~4x the attachment; a pinned buffer costs the document and the result only.
        Assert.True(allocated < 256 * 1024, $"{allocated} managed bytes allocated to send a {big.Length}-byte attachment");
    }

    [Fact]
    public void FailuresReleaseTheBuffersAndSendNothing()
    {
        byte[] bytes = RandomBytes(1000, 4);
        using PmpMailClient client = PmpMailClient.Create(emulator.SecretConfig());

        PmpMailMessage bad = NewMessage("buffers bad recipient");
        bad.To.Add("not an address");
        bad.Attachments.Add(PmpMailAttachment.FromBytes("a.bin", bytes));
        PmpMailException e = Assert.ThrowsAny<PmpMailException>(() => client.SendMail(bad));
        Assert.Equal(PmpStatus.InvalidArgument, e.Status);
        Assert.Contains("not an address", e.Message);

        PmpMailMessage missing = NewMessage("buffers missing file");
        missing.Attachments.Add(PmpMailAttachment.FromBytes("a.bin", bytes));
        missing.Attachments.Add(PmpMailAttachment.FromFile("/nonexistent/pmp-buffers.txt"));
        e = Assert.ThrowsAny<PmpMailException>(() => client.SendMail(missing));
        Assert.Equal(PmpStatus.Attachment, e.Status);
        Assert.Contains("attachments[1]", e.Message);

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        PmpMailMessage message = NewMessage("buffers cancelled");
        message.Attachments.Add(PmpMailAttachment.FromBytes("a.bin", bytes));
        Assert.Throws<PmpMailCancelledException>(() => client.SendMail(message, cancelled.Token));

        Assert.DoesNotContain(emulator.Messages(), m => (string?)m!["subject"] is "buffers bad recipient" or "buffers missing file" or "buffers cancelled");

        // After the failures (and a compacting collection that may move the arrays) the same bytes send intact.
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        string subject = "buffers after failures " + Guid.NewGuid();
        PmpMailMessage again = NewMessage(subject);
        again.Attachments.Add(PmpMailAttachment.FromBytes("a.bin", bytes));
        client.SendMail(again);
        Assert.Equal(Sha256(bytes), (string?)Attachment(Recorded(subject), "a.bin")["sha256"]);
    }
}
