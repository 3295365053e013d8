using System.Diagnostics;
using System.Text.Json.Nodes;
using Xunit;

namespace PmpMail.Interop.Tests;

/// <summary>
/// SendMailBatch / SendMailBatchAsync against the emulator: every item checked against what actually arrived, progress
/// on the right thread, cancellation by token and by a throwing progress handler, and the task that outlives no native
/// call.
/// </summary>
[Collection(EmulatorCollection.Name)]
public sealed class BatchTests : IDisposable
{
    /// <summary>A hang guard, not a timing claim.</summary>
    private static readonly TimeSpan Quickly = TimeSpan.FromSeconds(10);

    private readonly EmulatorFixture _emulator;

    public BatchTests(EmulatorFixture emulator)
    {
        _emulator = emulator;
        _emulator.Reset();
    }

    public void Dispose() => _emulator.ClearFaults();

    [Fact]
    public void MixedFaultsGiveOneItemPerMessageInInputOrderAndEverySentArrivedOnce()
    {
        // 429 and 503 with Retry-After are waited out per mailbox; the drop after accept costs its message(s).
        _emulator.SetFaults(
            new { path = "site-a", action = "status", status = 429, retryAfterSeconds = 1, count = 2 },
            new { path = "site-b", action = "status", status = 503, retryAfterSeconds = 1, count = 2 },
            new { path = "sendMail", action = "dropAfterAccept", skip = 10, count = 1 });
        using PmpMailClient client = PmpMailClient.Create(_emulator.SecretConfig());
        string run = Guid.NewGuid().ToString("N");
        string[] mailboxes = [EmulatorFixture.Mailbox, EmulatorFixture.SiteAMailbox, EmulatorFixture.SiteBMailbox];
        var messages = new List<PmpMailMessage>();
        for (int i = 0; i < 30; i++)
        {
            messages.Add(NewMessage(mailboxes[i % 3], $"xunit batch {run} {i}"));
        }

        // Two messages the library rejects: their own failed items, not the batch's failure.
        PmpMailMessage badAddress = NewMessage(EmulatorFixture.Mailbox, $"xunit batch {run} bad address");
        badAddress.To.Add("not-an-address");
        messages.Insert(7, badAddress);
        messages.Insert(15, NewMessage(string.Empty, $"xunit batch {run} no from"));

        var reports = new List<(PmpBatchProgress Progress, int Thread)>();
        int caller = Environment.CurrentManagedThreadId;
        PmpBatchResult result = client.SendMailBatch(messages, progress: p => reports.Add((p, Environment.CurrentManagedThreadId)));

        CheckOutcomes(result, messages);
        Assert.Equal(32, result.Total);
        Assert.Equal(PmpBatchItemStatus.Failed, result.Items[7].Status);
        Assert.IsType<PmpMailInvalidArgumentException>(result.Items[7].Error);
        Assert.Contains("not-an-address", result.Items[7].Error!.Message);
        Assert.Equal(PmpBatchItemStatus.Failed, result.Items[15].Status);
        Assert.IsType<PmpMailInvalidArgumentException>(result.Items[15].Error);
        Assert.Equal(2, result.Failed);
        Assert.True(result.Unknown >= 1, result.ToString());
        Assert.Equal(30, result.Sent + result.Unknown);
        Assert.All(result.Items.Where(i => i.Status == PmpBatchItemStatus.Unknown), i =>
        {
            PmpMailException error = i.Error!;
            Assert.Equal("unknown", error.Detail.Outcome);
        });

        // The throttled mailboxes waited out their Retry-After, and said so.
        Assert.Contains(result.Items, i => i.Status == PmpBatchItemStatus.Sent && messages[i.Index].From != EmulatorFixture.Mailbox && i.Waited > TimeSpan.Zero);
        Assert.All(result.Items.Where(i => i.Status == PmpBatchItemStatus.Sent), i => Assert.Equal(i.Waited, i.Result!.Waited));

        // Progress: on the calling thread, the total first, done never going back, all done last.
        Assert.All(reports, r => Assert.Equal(caller, r.Thread));
        Assert.Equal((32, 0), (reports[0].Progress.Total, reports[0].Progress.Done));
        Assert.Equal(32, reports[^1].Progress.Done);
        Assert.Equal(result.Sent, reports[^1].Progress.Sent);
        Assert.Equal(result.Unknown, reports[^1].Progress.Unknown);
        for (int i = 1; i < reports.Count; i++)
        {
            Assert.True(reports[i - 1].Progress.Done <= reports[i].Progress.Done, $"report {i} went back");
        }
    }

    [Fact]
    public void OneByOneSendsInInputOrderAndTheOptionsAreChecked()
    {
        using PmpMailClient client = PmpMailClient.Create(_emulator.SecretConfig());
        string run = Guid.NewGuid().ToString("N");
        List<PmpMailMessage> messages = Enumerable.Range(0, 8)
            .Select(i => NewMessage(i % 2 == 0 ? EmulatorFixture.SiteAMailbox : EmulatorFixture.SiteBMailbox, $"xunit in order {run} {i}"))
            .ToList();

        PmpBatchResult result = client.SendMailBatch(messages, new PmpBatchOptions { MaxConcurrent = 1 });

        Assert.Equal(8, result.Sent);
        Assert.Equal(messages.Select(m => m.Subject), _emulator.Messages().Select(m => (string?)m!["subject"]));

        // Out-of-range options fail the whole call before anything is sent.
        var e = Assert.Throws<PmpMailInvalidArgumentException>(() => client.SendMailBatch(messages, new PmpBatchOptions { MaxConcurrentPerMailbox = 17 }));
        Assert.Contains("maxConcurrentPerMailbox", e.Message);
        Assert.Equal(8, _emulator.Messages().Count);
        Assert.Throws<ArgumentException>(() => client.SendMailBatch([messages[0], null!]));
        Assert.Equal(8, _emulator.Messages().Count);
    }

    [Fact]
    public void StopOnFailureSendsNothingAfterTheFirstFailedMessage()
    {
        // The second sendMail is refused (400: nothing sent); one by one, so the rest have not started.
        _emulator.SetFaults(new { path = "sendMail", action = "status", status = 400, graphCode = "ErrorInvalidRecipients", skip = 1, count = 1 });
        using PmpMailClient client = PmpMailClient.Create(_emulator.SecretConfig());
        string run = Guid.NewGuid().ToString("N");
        List<PmpMailMessage> messages = Enumerable.Range(0, 5).Select(i => NewMessage(EmulatorFixture.SiteAMailbox, $"xunit stop {run} {i}")).ToList();
        using var caller = new CancellationTokenSource();

        PmpBatchResult result = client.SendMailBatch(messages, new PmpBatchOptions { MaxConcurrent = 1, StopOnFailure = true }, cancellationToken: caller.Token);

        Assert.Equal(
            [PmpBatchItemStatus.Sent, PmpBatchItemStatus.Failed, PmpBatchItemStatus.Cancelled, PmpBatchItemStatus.Cancelled, PmpBatchItemStatus.Cancelled],
            result.Items.Select(i => i.Status));
        Assert.Contains("stopOnFailure", result.Items[2].Error!.Message);
        Assert.Equal([$"xunit stop {run} 0"], _emulator.Messages().Select(m => (string?)m!["subject"]));
        Assert.False(caller.IsCancellationRequested);
    }

    [Fact]
    public void InMemoryAttachmentsArriveByteForByteInABatch()
    {
        // In-memory attachments go to pmp_send_batch_with_buffers as pinned buffers (BufferTests checks the document).
        byte[] small = new byte[70_000];
        new Random(5).NextBytes(small);
        byte[] large = new byte[(3 * 1024 * 1024) + 5];
        new Random(6).NextBytes(large);
        string tag = Guid.NewGuid().ToString("n");
        PmpMailMessage withSmall = NewMessage(EmulatorFixture.Mailbox, $"batch bytes small {tag}");
        withSmall.Attachments.Add(PmpMailAttachment.FromBytes("small.bin", small));
        PmpMailMessage withLarge = NewMessage(EmulatorFixture.Mailbox, $"batch bytes large {tag}");
        withLarge.Attachments.Add(PmpMailAttachment.FromBytes("large.bin", large.AsMemory(0, large.Length)));
        using PmpMailClient client = PmpMailClient.Create(_emulator.SecretConfig());

        PmpBatchResult result = client.SendMailBatch([withSmall, withLarge]);

        Assert.All(result.Items, i => Assert.Equal(PmpBatchItemStatus.Sent, i.Status));
        Assert.True(result.Items[1].Result!.UploadSession);
        foreach ((string subject, string name, byte[] bytes) in new[] { (withSmall.Subject!, "small.bin", small), (withLarge.Subject!, "large.bin", large) })
        {
            JsonNode recorded = _emulator.Messages().Single(m => (string?)m!["subject"] == subject)!;
            JsonNode attachment = recorded["attachments"]!.AsArray().Single(a => (string?)a!["name"] == name)!;
            string expected = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes)).ToLowerInvariant();
            Assert.Equal(expected, (string?)attachment["sha256"]);
        }
    }

    [Fact]
    public void AnEmptyBatchIsAnEmptyResult()
    {
        using PmpMailClient client = PmpMailClient.Create(_emulator.SecretConfig());
        var reports = new List<PmpBatchProgress>();

        PmpBatchResult result = client.SendMailBatch([], progress: reports.Add);

        Assert.Equal(0, result.Total);
        Assert.Empty(result.Items);
        Assert.All(reports, p => Assert.Equal(0, p.Total));
        Assert.Equal(0, (int)_emulator.Counters()["sendMailRequests"]!);
    }

    [Fact]
    public async Task CancellingMidBatchReturnsCancelledItemsAndTheTaskOutlivesTheNativeCall()
    {
        _emulator.SetFaults(new { path = "sendMail", action = "delay", delayMs = 300, count = 1000 });
        using PmpMailClient client = PmpMailClient.Create(_emulator.SecretConfig());
        string run = Guid.NewGuid().ToString("N");
        List<PmpMailMessage> messages = Enumerable.Range(0, 40).Select(i => NewMessage(EmulatorFixture.Mailbox, $"xunit cancel {run} {i}")).ToList();
        var progress = new RecordingProgress();
        using var cts = new CancellationTokenSource();

        var watch = Stopwatch.StartNew();
        Task<PmpBatchResult> batch = client.SendMailBatchAsync(messages, progress: progress, cancellationToken: cts.Token);
        cts.CancelAfter(TimeSpan.FromMilliseconds(700));
        PmpBatchResult result = await batch.WaitAsync(Quickly);
        progress.TaskCompleted = true;

        Assert.True(watch.Elapsed < Quickly, watch.Elapsed.ToString());
        Assert.Equal(TaskStatus.RanToCompletion, batch.Status);
        CheckOutcomes(result, messages);
        Assert.True(result.Sent > 0, result.ToString());
        Assert.True(result.Cancelled > 0, result.ToString());
        Assert.Equal(40, result.Sent + result.Cancelled);
        Assert.All(result.Items.Where(i => i.Status == PmpBatchItemStatus.Cancelled), i =>
        {
            var error = Assert.IsType<PmpMailCancelledException>(i.Error);
            Assert.Equal("cancelled", error.Category);
        });

        // The reports came from the batch's own thread (not the pool, not this test's), and none came after the task
        // completed: the native call had returned. Nothing arrived after that either.
        Assert.NotEmpty(progress.Reports);
        Assert.All(progress.Threads, t => Assert.False(t.IsPoolThread));
        Thread.Sleep(800);
        Assert.Equal(0, progress.AfterCompletion);
        Assert.Equal(result.Sent, _emulator.Messages().Count);
    }

    [Fact]
    public void ATokenCancelledBeforeTheCallSendsNothing()
    {
        using PmpMailClient client = PmpMailClient.Create(_emulator.SecretConfig());
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        PmpBatchResult result = client.SendMailBatch([NewMessage(EmulatorFixture.Mailbox, "a"), NewMessage(EmulatorFixture.SiteAMailbox, "b")], cancellationToken: cts.Token);

        Assert.Equal(2, result.Cancelled);
        Assert.All(result.Items, i => Assert.IsType<PmpMailCancelledException>(i.Error));
        Assert.Equal(0, (int)_emulator.Counters()["sendMailRequests"]!);
    }

    [Fact]
    public async Task AsyncProgressIsPostedToTheCallersContext()
    {
        using PmpMailClient client = PmpMailClient.Create(_emulator.SecretConfig());
        string run = Guid.NewGuid().ToString("N");
        List<PmpMailMessage> messages = Enumerable.Range(0, 6).Select(i => NewMessage(EmulatorFixture.Mailbox, $"xunit async {run} {i}")).ToList();
        var context = new CountingContext();
        var reports = new List<PmpBatchProgress>();
        using var allDone = new SemaphoreSlim(0);
        SynchronizationContext? previous = SynchronizationContext.Current;
        Progress<PmpBatchProgress> progress;
        SynchronizationContext.SetSynchronizationContext(context);
        try
        {
            // Progress<T> captures the context it is created on.
            progress = new Progress<PmpBatchProgress>(p =>
            {
                lock (reports)
                {
                    reports.Add(p);
                }

                if (p.Done == p.Total)
                {
                    allDone.Release();
                }
            });
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }

        PmpBatchResult result = await client.SendMailBatchAsync(messages, progress: progress).WaitAsync(Quickly);

        Assert.Equal(6, result.Sent);
        Assert.True(await allDone.WaitAsync(Quickly));
        Assert.True(context.Posts > 0);
        lock (reports)
        {
            Assert.Contains(reports, p => p.Done == 6 && p.Sent == 6);
        }
    }

    [Fact]
    public void AThrowingProgressHandlerCancelsTheBatchAndItsExceptionIsRethrown()
    {
        _emulator.SetFaults(new { path = "sendMail", action = "delay", delayMs = 300, count = 1000 });
        using PmpMailClient client = PmpMailClient.Create(_emulator.SecretConfig());
        string run = Guid.NewGuid().ToString("N");
        List<PmpMailMessage> messages = Enumerable.Range(0, 40).Select(i => NewMessage(EmulatorFixture.Mailbox, $"xunit throwing {run} {i}")).ToList();
        var thrown = new InvalidOperationException("the handler failed");
        int callsAfterThrow = 0;
        bool threw = false;

        var watch = Stopwatch.StartNew();
        var caught = Assert.Throws<InvalidOperationException>(() => client.SendMailBatch(messages, progress: p =>
        {
            if (threw)
            {
                callsAfterThrow++;
            }
            else if (p.Done >= 2)
            {
                threw = true;
                throw thrown;
            }
        }));

        Assert.True(watch.Elapsed < Quickly, watch.Elapsed.ToString());
        Assert.Same(thrown, caught);
        Assert.Contains(nameof(AThrowingProgressHandlerCancelsTheBatchAndItsExceptionIsRethrown), caught.StackTrace);
        Assert.Equal(0, callsAfterThrow);

        // The rest was cancelled: nothing arrives after the call returned, and far from all of it arrived.
        int arrived = _emulator.Messages().Count;
        Assert.InRange(arrived, 2, 39);
        Thread.Sleep(800);
        Assert.Equal(arrived, _emulator.Messages().Count);

        // The client is fine afterwards.
        Assert.Equal("sent", client.SendMail(NewMessage(EmulatorFixture.Mailbox, "xunit after throwing " + run)).Status);
    }

    [Fact]
    public void ACallOnAClientInsideTheProgressHandlerFailsAndStopsTheBatch()
    {
        // Slow sends, one by one: the batch would take 3 s; the cancel from the first report (before any result, while
        // the first send may already be under way) lands long before.
        _emulator.SetFaults(new { path = "sendMail", action = "delay", delayMs = 300, count = 1000 });
        using PmpMailClient client = PmpMailClient.Create(_emulator.SecretConfig());
        List<PmpMailMessage> messages = Enumerable.Range(0, 10).Select(i => NewMessage(EmulatorFixture.Mailbox, "xunit reentrant " + i)).ToList();

        var e = Assert.Throws<PmpMailInvalidArgumentException>(() =>
            client.SendMailBatch(messages, new PmpBatchOptions { MaxConcurrent = 1 }, _ => client.SendMail(messages[0])));

        Assert.Contains("progress callback", e.Message);
        Assert.InRange(_emulator.Messages().Count, 0, 5);
    }

    [Fact]
    public async Task SendMailAsyncAndTestPermissionsAsyncRunTheNativeCallToItsEnd()
    {
        using PmpMailClient client = PmpMailClient.Create(_emulator.SecretConfig());
        string subject = "xunit send async " + Guid.NewGuid();

        PmpSendResult sent = await client.SendMailAsync(NewMessage(EmulatorFixture.Mailbox, subject)).WaitAsync(Quickly);
        PmpPermissionReport report = await client.TestPermissionsAsync().WaitAsync(Quickly);

        Assert.Equal("sent", sent.Status);
        Assert.Equal(TimeSpan.Zero, sent.Waited);
        Assert.True(report.Authenticated);
        Assert.Equal(subject, (string?)Assert.Single(_emulator.Messages())!["subject"]);

        // A cancelled token faults the task with the library's exception, and sends nothing.
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        await Assert.ThrowsAsync<PmpMailCancelledException>(() => client.SendMailAsync(NewMessage(EmulatorFixture.Mailbox, "never"), cts.Token));
        await Assert.ThrowsAsync<PmpMailCancelledException>(() => client.TestPermissionsAsync(true, cts.Token));
        Assert.Single(_emulator.Messages());
    }

    /// <summary>
    /// The promise of every batch: one item per message in input order, counts that add up, every sent message arrived
    /// exactly once, no failed or cancelled one arrived, an unknown one at most once, and nothing arrived that is not listed.
    /// </summary>
    private void CheckOutcomes(PmpBatchResult result, IReadOnlyList<PmpMailMessage> messages)
    {
        Assert.Equal(messages.Count, result.Items.Count);
        Assert.Equal(messages.Count, result.Total);
        Assert.Equal(result.Total, result.Sent + result.Failed + result.Unknown + result.Cancelled);
        Dictionary<string, int> arrived = _emulator.Messages()
            .GroupBy(m => (string)m!["subject"]!)
            .ToDictionary(g => g.Key, g => g.Count());
        for (int i = 0; i < messages.Count; i++)
        {
            PmpBatchItem item = result.Items[i];
            Assert.Equal(i, item.Index);
            int copies = arrived.GetValueOrDefault(messages[i].Subject!);
            switch (item.Status)
            {
                case PmpBatchItemStatus.Sent:
                    Assert.True(copies == 1, $"sent {messages[i].Subject} arrived {copies} times");
                    Assert.NotNull(item.Result);
                    Assert.Null(item.Error);
                    break;
                case PmpBatchItemStatus.Failed or PmpBatchItemStatus.Cancelled:
                    Assert.True(copies == 0, $"{item.Status} {messages[i].Subject} arrived {copies} times");
                    Assert.Null(item.Result);
                    Assert.NotNull(item.Error);
                    Assert.IsNotType<PmpMailThrottledException>(item.Error);
                    break;
                case PmpBatchItemStatus.Unknown:
                    Assert.True(copies <= 1, $"unknown {messages[i].Subject} arrived {copies} times");
                    Assert.NotNull(item.Error);
                    break;
            }
        }

        var listed = new HashSet<string>(messages.Select(m => m.Subject!));
        Assert.All(arrived.Keys, subject => Assert.Contains(subject, listed));
        Assert.Equal(result.Sent + result.Items.Count(i => i.Status == PmpBatchItemStatus.Unknown && arrived.ContainsKey(messages[i.Index].Subject!)), arrived.Values.Sum());
    }

    private static PmpMailMessage NewMessage(string from, string subject)
    {
        var message = new PmpMailMessage { From = from, Subject = subject, Body = "body" };
        message.To.Add("ops@contoso.com");
        return message;
    }

    /// <summary>An IProgress that records synchronously, on the thread that reports.</summary>
    private sealed class RecordingProgress : IProgress<PmpBatchProgress>
    {
        private int _afterCompletion;

        public List<PmpBatchProgress> Reports { get; } = [];

        public List<(int Id, bool IsPoolThread)> Threads { get; } = [];

        public volatile bool TaskCompleted;

        public int AfterCompletion => Volatile.Read(ref _afterCompletion);

        public void Report(PmpBatchProgress value)
        {
            if (TaskCompleted)
            {
                Interlocked.Increment(ref _afterCompletion);
            }

            Reports.Add(value);
            Threads.Add((Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread));
        }
    }

    /// <summary>Counts what is posted to it, then runs it on the pool.</summary>
    private sealed class CountingContext : SynchronizationContext
    {
        private int _posts;

        public int Posts => Volatile.Read(ref _posts);

        public override void Post(SendOrPostCallback d, object? state)
        {
            Interlocked.Increment(ref _posts);
            base.Post(d, state);
        }
    }
}
