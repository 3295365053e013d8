using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Management.Automation;
using System.Net.Mail;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading;
using PmpMail.Interop;

namespace PmpMail.Commands;

/// <summary>
/// Sends mail through Microsoft Graph as a mailbox, with Send-MailMessage's parameter names. Each pipeline
/// record (for example a row of Import-Csv) is one message.
/// </summary>
[Cmdlet(VerbsCommunications.Send, "PmpMail", DefaultParameterSetName = SessionSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SendResult))]
public sealed class SendPmpMailCommand : PmpMailConnectedCmdletBase
{
    private PmpMailConnection? _connection;

    #region Parameters

    /// <summary>Recipients ("addr" or "Name &lt;addr&gt;").</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[] To { get; set; } = Array.Empty<string>();

    /// <summary>Subject.</summary>
    [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("sub")]
    [AllowEmptyString]
    public string? Subject { get; set; }

    /// <summary>Body (text, or HTML with -BodyAsHtml).</summary>
    [Parameter(Position = 2, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string? Body { get; set; }

    /// <summary>The mailbox to send as.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? From { get; set; }

    /// <summary>Carbon copy recipients.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string[]? Cc { get; set; }

    /// <summary>Blind carbon copy recipients.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string[]? Bcc { get; set; }

    /// <summary>Reply-to addresses.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string[]? ReplyTo { get; set; }

    /// <summary>Files to attach (paths or files); relative paths are resolved against the current location.</summary>
    [Parameter(ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("PsPath")]
    public AttachmentPath[]? Attachments { get; set; }

    /// <summary>The body is HTML.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("BAH")]
    [BooleanArgument(EmptyValue = false)]
    public SwitchParameter BodyAsHtml { get; set; }

    /// <summary>Importance: High, Normal or Low.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public MailPriority Priority { get; set; } = MailPriority.Normal;

    /// <summary>Accepted for Send-MailMessage compatibility and ignored: everything is sent as UTF-8.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("BE")]
    public object? Encoding { get; set; }

    /// <summary>Keep a copy in the mailbox's Sent Items (default $true).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [BooleanArgument(EmptyValue = true)]
    public bool SaveToSentItems { get; set; } = true;

    /// <summary>Inline images: content id → file path, referenced in an HTML body as cid:&lt;id&gt;.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public Hashtable? InlineAttachment { get; set; }

    /// <summary>Custom x- internet headers (name → value, at most 5).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public Hashtable? Header { get; set; }

    /// <summary>
    /// Return a result object: for pipeline input one per input record, whatever happened to it (Status sent, failed,
    /// unknown or cancelled); for a single call one when the message was sent.
    /// </summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>
    /// Pipeline input: messages in flight at once per sending mailbox (default 4, Graph's limit per app and mailbox).
    /// 1 sends one message at a time, in input order.
    /// </summary>
    [Parameter]
    [ValidateRange(1, 16)]
    public int ThrottleLimit { get; set; } = DefaultThrottleLimit;

    #endregion

    #region Members

    /// <summary>The native default of <c>sending.maxConcurrentPerMailbox</c>: a client made here is raised past it only for a higher -ThrottleLimit.</summary>
    private const int DefaultThrottleLimit = 4;

    /// <summary>Write-Progress's activity id for the batch.</summary>
    private const int ProgressActivityId = 1;

    /// <summary>Input records seen so far; the next one's <see cref="SendResult.InputIndex"/>.</summary>
    private int _inputIndex;

    /// <summary>Pipeline input, in input order: the messages to send and the records that failed before sending.</summary>
    private readonly List<Row> _rows = new();

    /// <summary>True once EndProcessing ran: the collected input was sent (or its failure reported).</summary>
    private bool _ended;

    /// <summary>The batch's latest progress, posted by the native call's thread and shown by the pipeline thread.</summary>
    private StrongBox<PmpBatchProgress>? _progress;

    /// <summary>The progress last shown, and when (the rate changes even when the counts do not).</summary>
    private StrongBox<PmpBatchProgress>? _shown;
    private TimeSpan _shownAt;

    /// <summary>Runs from the start of the batch.</summary>
    private Stopwatch _clock = new();

    #endregion

    #region Method overrides

    /// <summary>A client made for this call allows -ThrottleLimit sends per mailbox when that is above the default.</summary>
    internal override int? SendingLimitPerMailbox => ThrottleLimit > DefaultThrottleLimit ? ThrottleLimit : null;

    /// <inheritdoc />
    protected override void BeginProcessing() => _connection = AcquireConnectionOrStop();

    /// <summary>
    /// A single call sends right away. Pipeline input is only collected here (each record is checked and its
    /// attachments resolved now, so a bad record gets its error at once); <see cref="EndProcessing"/> sends the batch.
    /// </summary>
    protected override void ProcessRecord()
    {
        int index = _inputIndex++;
        string target = DescribeTarget();
        PmpMailMessage? message = BuildMessage(target, out ErrorRecord? invalid);
        if (invalid is not null)
        {
            WriteError(invalid);
            if (MyInvocation.ExpectingInput)
            {
                _rows.Add(new Row(index, null, target, From!, To, Subject, SaveToSentItems, invalid.FullyQualifiedErrorId.Split(',')[0]));
            }

            return;
        }

        if (IsStopping || !ShouldProcess(target, $"Send mail '{Subject}' as {From}"))
        {
            return;
        }

        if (MyInvocation.ExpectingInput)
        {
            _rows.Add(new Row(index, message, target, From!, To, Subject, SaveToSentItems, null));
            return;
        }

        SendOne(message!, target);
    }

    /// <summary>Sends the collected pipeline input as one batch and reports every record in input order.</summary>
    protected override void EndProcessing()
    {
        List<Row> pending = _rows.FindAll(r => r.Message is not null);
        if (pending.Count == 0 || IsStopping)
        {
            return; // stopped: OnDisposing reports the collected input
        }

        _ended = true;

        PmpBatchResult result;
        var options = new PmpBatchOptions
        {
            MaxConcurrentPerMailbox = ThrottleLimit,
            // One by one in input order, across mailboxes too: today's order for scripts that depend on it.
            MaxConcurrent = ThrottleLimit == 1 ? 1 : null,
            // -ErrorAction Stop ends the command at the first failed message, as a one-by-one loop would: messages that
            // had not started are not sent (reported cancelled).
            StopOnFailure = ErrorActionIsStop(),
        };
        _clock = Stopwatch.StartNew();
        WriteVerbose($"Sending {pending.Count} message(s) with at most {ThrottleLimit} in flight per mailbox.");
        try
        {
            PmpMailClient client = _connection!.Client;
            List<PmpMailMessage> messages = pending.ConvertAll(r => r.Message!);
            result = RunNative(
                stop => client.SendMailBatch(messages, options, p => Volatile.Write(ref _progress, new StrongBox<PmpBatchProgress>(p)), stop),
                ShowProgress);
        }
        catch (PmpMailException ex)
        {
            // The batch did not run (nothing was sent): every message gets the error.
            WriteLog(ex.Detail.Log);
            ReportAll(pending, row => ErrorMapper.ToErrorRecord(ex, "SendFailed", row.Target));
            return;
        }
        catch (ObjectDisposedException ex)
        {
            ReportAll(pending, row => ConnectionClosed(ex, row.Target));
            return;
        }

        if (IsStopping)
        {
            // Ctrl+C: PowerShell refuses output now, so the host and $Error get the account.
            ReportStopped(pending, result);
            return;
        }

        WriteProgress(new ProgressRecord(ProgressActivityId, "Sending mail", "Done") { RecordType = ProgressRecordType.Completed });
        ReportBatch(pending, result);
    }

    #endregion

    /// <summary>True when a failed message ends the command: -ErrorAction Stop, or $ErrorActionPreference = 'Stop' without -ErrorAction.</summary>
    private bool ErrorActionIsStop()
    {
        object? value = MyInvocation.BoundParameters.TryGetValue("ErrorAction", out object? bound)
            ? bound
            : SessionState.PSVariable.GetValue("ErrorActionPreference");
        return LanguagePrimitives.TryConvertTo(value, CultureInfo.InvariantCulture, out ActionPreference preference)
            && preference == ActionPreference.Stop;
    }

    /// <summary>A record of pipeline input: its message, or the ErrorId that kept it from being sent.</summary>
    private sealed record Row(int Index, PmpMailMessage? Message, string Target, string From, string[] To, string? Subject, bool SaveToSentItems, string? InvalidErrorId);

    /// <summary>The single-call path: one native send, as before batches.</summary>
    private void SendOne(PmpMailMessage message, string target)
    {
        try
        {
            PmpMailClient client = _connection!.Client;
            PmpSendResult result = RunNative(stop => client.SendMail(message, stop));
            ReportSent(new Row(0, message, target, From!, To, Subject, SaveToSentItems, null), result);
        }
        catch (PmpMailException ex)
        {
            WriteLog(ex.Detail.Log);
            WriteError(ErrorMapper.ToErrorRecord(ex, "SendFailed", target));
        }
        catch (ObjectDisposedException ex)
        {
            WriteError(ConnectionClosed(ex, target));
        }
    }

    private static ErrorRecord ConnectionClosed(ObjectDisposedException ex, string target) =>
        ErrorMapper.Build(ex, "PmpMail.ConnectionClosed", ErrorCategory.ConnectionError, target, "The connection was closed (Disconnect-PmpMail) while this pipeline was running.", "Connect again.");

    /// <summary>Writes the batch's results in input order: output and warnings for the sent, one error per other.</summary>
    private void ReportBatch(List<Row> pending, PmpBatchResult result)
    {
        var byRow = new Dictionary<int, PmpBatchItem>();
        foreach (PmpBatchItem item in result.Items)
        {
            byRow[pending[item.Index].Index] = item;
        }

        int next = 0;
        try
        {
            for (; next < _rows.Count; next++)
            {
                Row row = _rows[next];
                if (row.Message is null)
                {
                    // Its error was written when it came in.
                    WritePassThru(row, "failed", null, row.InvalidErrorId);
                }
                else if (!byRow.TryGetValue(row.Index, out PmpBatchItem? item))
                {
                    // Declined with -WhatIf/-Confirm: never in the batch.
                }
                else if (item.Status == PmpBatchItemStatus.Sent && item.Result is not null)
                {
                    ReportSent(row, item.Result);
                }
                else
                {
                    WriteLog(item.Error?.Detail.Log);
                    ReportNotSent(row, ErrorOf(row, item), StatusText(item.Status));
                }
            }
        }
        catch (Exception ex) when (ex is ActionPreferenceStopException or PipelineStoppedException)
        {
            // -ErrorAction Stop (or Ctrl+C) while reporting: the batch has run, so account for the records not yet reported.
            var errors = new List<ErrorRecord>();
            var indexes = new List<int>();
            for (int i = next + 1; i < _rows.Count; i++)
            {
                if (byRow.TryGetValue(_rows[i].Index, out PmpBatchItem? item) && item.Status != PmpBatchItemStatus.Sent)
                {
                    errors.Add(ErrorOf(_rows[i], item));
                    indexes.Add(_rows[i].Index);
                }
            }

            if (errors.Count > 0)
            {
                string cancelled = result.Cancelled > 0
                    ? $" -ErrorAction Stop cancelled the batch at its first failure: {result.Cancelled} message(s) that had not started were not sent (PmpMail.Cancelled)."
                    : "";
                ReportAfterStop(errors, $"Send-PmpMail stopped reporting at input record {_rows[next].Index} (-ErrorAction Stop, Ctrl+C, or a command after it that ends the pipeline) after its batch had run.{cancelled} Also not sent: input record(s) {Ranges(indexes)}; their errors are in $Error (newest first).");
            }

            throw;
        }

        WriteVerbose($"{result.Sent} sent, {result.Failed} failed, {result.Unknown} unknown, {result.Cancelled} cancelled in {result.Duration.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s.");
    }

    /// <summary>Every message of a batch that did not run gets the same error.</summary>
    private void ReportAll(List<Row> pending, Func<Row, ErrorRecord> errorOf)
    {
        if (IsStopping)
        {
            ReportAfterStop(pending.ConvertAll(r => errorOf(r)), $"Send-PmpMail sent nothing: the batch failed. Not sent: input record(s) {Ranges(pending.ConvertAll(r => r.Index))}; their errors are in $Error (newest first).");
            return;
        }

        foreach (Row row in pending)
        {
            ReportNotSent(row, errorOf(row), "failed");
        }
    }

    private void ReportSent(Row row, PmpSendResult result)
    {
        WriteLog(result.Log);
        if (!row.SaveToSentItems && result.UploadSession)
        {
            WriteWarning($"-SaveToSentItems $false was not honoured for the message to {row.Target}: its attachments (one of 3 MB or more, or too large together for one request) made it go out as a draft, and Graph keeps every sent draft in Sent Items (its draft send has no saveToSentItems). Delete it from Sent Items if it must not stay there.");
        }

        if (result.PossibleDuplicate)
        {
            WriteWarning($"The message to {row.Target} may have arrived twice: an attempt's outcome was unknown (its answer was lost, or Graph failed without saying whether it took it) and -RetryUnknownOutcome sent it again.");
        }

        WritePassThru(row, result.Status, result, null);
    }

    private void ReportNotSent(Row row, ErrorRecord error, string status)
    {
        WriteError(error);
        WritePassThru(row, status, null, error);
    }

    private void WritePassThru(Row row, string status, PmpSendResult? result, ErrorRecord? error) =>
        WritePassThru(row, status, result, error?.FullyQualifiedErrorId.Split(',')[0], (error?.Exception as PmpMailException)?.Detail);

    private void WritePassThru(Row row, string status, PmpSendResult? result, string? errorId, PmpErrorDetail? detail = null)
    {
        if (!PassThru)
        {
            return;
        }

        WriteObject(new SendResult
        {
            InputIndex = row.Index,
            Status = status,
            Attempts = result?.Attempts ?? detail?.Attempts ?? 0,
            RequestId = result?.RequestId ?? detail?.RequestId,
            ClientRequestId = result?.ClientRequestId ?? detail?.ClientRequestId,
            DurationMs = result?.DurationMs ?? 0,
            UploadSession = result?.UploadSession ?? false,
            PossibleDuplicate = result?.PossibleDuplicate ?? false,
            ErrorId = errorId,
            From = row.From,
            To = row.To,
            Subject = row.Subject,
            Log = result?.Log ?? detail?.Log ?? Array.Empty<string>(),
        });
    }

    /// <summary>The ErrorRecord of a message the batch did not send, with the ids a single send gives.</summary>
    private static ErrorRecord ErrorOf(Row row, PmpBatchItem item) => item.Error is not null
        ? ErrorMapper.ToErrorRecord(item.Error, "SendFailed", row.Target)
        : ErrorMapper.Build(new InvalidOperationException($"The batch reported the message to {row.Target} as {StatusText(item.Status)} without an error."), "PmpMail.InternalError", ErrorCategory.NotSpecified, row.Target, $"The batch reported the message to {row.Target} as {StatusText(item.Status)} without an error.", null);

    private static string StatusText(PmpBatchItemStatus status) => status switch
    {
        PmpBatchItemStatus.Sent => "sent",
        PmpBatchItemStatus.Failed => "failed",
        PmpBatchItemStatus.Unknown => "unknown",
        _ => "cancelled",
    };

    /// <summary>Shows the batch's latest progress (pipeline thread): when it changed, and every second for the rate.</summary>
    private void ShowProgress()
    {
        StrongBox<PmpBatchProgress>? latest = Volatile.Read(ref _progress);
        TimeSpan elapsed = _clock.Elapsed;
        if (latest is null || IsStopping || (ReferenceEquals(latest, _shown) && elapsed - _shownAt < TimeSpan.FromSeconds(1)))
        {
            return;
        }

        _shown = latest;
        _shownAt = elapsed;
        PmpBatchProgress p = latest.Value;
        double rate = elapsed.TotalSeconds > 0 ? p.Done / elapsed.TotalSeconds : 0;
        var status = new StringBuilder()
            .Append(p.Sent.ToString(CultureInfo.InvariantCulture)).Append(" of ").Append(p.Total.ToString(CultureInfo.InvariantCulture)).Append(" sent");
        if (p.Failed > 0)
        {
            status.Append(", ").Append(p.Failed.ToString(CultureInfo.InvariantCulture)).Append(" failed");
        }

        if (p.Unknown > 0)
        {
            status.Append(", ").Append(p.Unknown.ToString(CultureInfo.InvariantCulture)).Append(" unknown");
        }

        status.Append(", rate ").Append(rate.ToString("0.0", CultureInfo.InvariantCulture)).Append("/s");
        if (p.WaitingForThrottle > 0)
        {
            status.Append("; ").Append(p.WaitingForThrottle.ToString(CultureInfo.InvariantCulture))
                .Append(" waiting: Graph throttled their mailbox for ")
                .Append(Math.Ceiling(p.ThrottledFor.TotalSeconds).ToString(CultureInfo.InvariantCulture)).Append(" s");
        }

        var record = new ProgressRecord(ProgressActivityId, "Sending mail", status.ToString())
        {
            PercentComplete = p.Total > 0 ? (int)(100L * p.Done / p.Total) : 0,
            SecondsRemaining = rate > 0 ? (int)Math.Ceiling((p.Total - p.Done) / rate) : -1,
        };
        WriteProgress(record);
    }

    /// <summary>
    /// Ctrl+C during the batch. PowerShell refuses every write once the pipeline stops, so each message that was not
    /// sent gets its ErrorRecord in $Error (the ids of a normal run: PmpMail.Cancelled for those that never had their
    /// turn, PmpMail.OutcomeUnknown for a request whose answer was lost) and the host gets a summary by input index.
    /// </summary>
    private void ReportStopped(List<Row> pending, PmpBatchResult result)
    {
        var errors = new List<ErrorRecord>();
        var cancelled = new List<int>();
        var unknown = new List<int>();
        var failed = new List<int>();
        foreach (PmpBatchItem item in result.Items)
        {
            if (item.Status == PmpBatchItemStatus.Sent)
            {
                continue;
            }

            Row row = pending[item.Index];
            errors.Add(ErrorOf(row, item));
            (item.Status switch
            {
                PmpBatchItemStatus.Unknown => unknown,
                PmpBatchItemStatus.Failed => failed,
                _ => cancelled,
            }).Add(row.Index);
        }

        var text = new StringBuilder($"Send-PmpMail was stopped: {result.Sent} of {result.Total} message(s) were sent.");
        if (cancelled.Count > 0)
        {
            text.Append($" Not sent (cancelled before their turn, PmpMail.Cancelled): input record(s) {Ranges(cancelled)}.");
        }

        if (unknown.Count > 0)
        {
            text.Append($" May have been sent (the answer was lost, PmpMail.OutcomeUnknown; check Sent Items before resending): {Ranges(unknown)}.");
        }

        if (failed.Count > 0)
        {
            text.Append($" Failed: {Ranges(failed)}.");
        }

        if (errors.Count > 0)
        {
            text.Append($" Their errors are in $Error (newest first).");
        }

        ReportAfterStop(errors, text.ToString());
    }

    /// <summary>
    /// The pipeline stopped (Ctrl+C, or a terminating error) before its end: the collected input, sent only at the end,
    /// was not sent at all. Called from Dispose, the one step PowerShell still runs.
    /// </summary>
    internal override void OnDisposing()
    {
        List<Row> pending = _ended ? new List<Row>() : _rows.FindAll(r => r.Message is not null);
        _rows.Clear();
        if (pending.Count == 0)
        {
            return;
        }

        var errors = pending.ConvertAll(row =>
        {
            string message = $"Input record {row.Index} ({row.Target}) was not sent: the pipeline stopped before the end of its input, and Send-PmpMail sends pipeline input only then.";
            var ex = new PmpMailCancelledException(PmpStatus.Cancelled, new PmpErrorDetail
            {
                Status = (uint)PmpStatus.Cancelled,
                StatusName = "PMP_STATUS_CANCELLED",
                Category = "cancelled",
                Outcome = "failed",
                Message = message,
                Remedy = "Nothing was sent; run the pipeline again.",
            });
            return ErrorMapper.ToErrorRecord(ex, "SendFailed", row.Target);
        });
        ReportAfterStop(errors, $"Send-PmpMail sent nothing: the pipeline stopped before the end of its input, and pipeline input is sent as one batch at the end. Not sent (PmpMail.Cancelled): input record(s) {Ranges(pending.ConvertAll(r => r.Index))}. Their errors are in $Error (newest first).");
    }

    /// <summary>Puts the records into $Error as WriteError would have, and the summary on the host (when it has a UI).</summary>
    private void ReportAfterStop(List<ErrorRecord> errors, string summary)
    {
        try
        {
            if (SessionState.PSVariable.GetValue("global:Error") is ArrayList dollarError)
            {
                // $MaximumErrorCount, when set (PowerShell's default is 256).
                object? limit = SessionState.PSVariable.GetValue("global:MaximumErrorCount");
                int max = limit is not null && LanguagePrimitives.TryConvertTo(limit, CultureInfo.InvariantCulture, out int m) && m > 0 ? m : 256;
                foreach (ErrorRecord error in errors)
                {
                    // The id WriteError would have given it: <ErrorId>,<cmdlet class>.
                    dollarError.Insert(0, new ErrorRecord(error.Exception, $"{error.FullyQualifiedErrorId},{GetType().FullName}", error.CategoryInfo.Category, error.TargetObject)
                    {
                        ErrorDetails = error.ErrorDetails,
                    });
                }

                while (dollarError.Count > max)
                {
                    dollarError.RemoveAt(dollarError.Count - 1);
                }
            }

            Host?.UI?.WriteWarningLine(summary);
        }
        catch (Exception ex) when (ex is PSInvalidOperationException or NotSupportedException or PipelineStoppedException)
        {
            // A host or session that is closing: nothing more can be reported.
        }
    }

    /// <summary>"0-3, 7, 9-12".</summary>
    private static string Ranges(List<int> indexes)
    {
        indexes.Sort();
        var text = new StringBuilder();
        for (int i = 0; i < indexes.Count; i++)
        {
            int start = indexes[i];
            while (i + 1 < indexes.Count && indexes[i + 1] == indexes[i] + 1)
            {
                i++;
            }

            text.Append(text.Length > 0 ? ", " : string.Empty).Append(start.ToString(CultureInfo.InvariantCulture));
            if (indexes[i] != start)
            {
                text.Append('-').Append(indexes[i].ToString(CultureInfo.InvariantCulture));
            }
        }

        return text.ToString();
    }

    private string DescribeTarget()
    {
        var text = new StringBuilder("To: ").Append(string.Join(", ", To));
        if (Cc is { Length: > 0 })
        {
            text.Append("; Cc: ").Append(string.Join(", ", Cc));
        }

        if (Bcc is { Length: > 0 })
        {
            text.Append("; Bcc: ").Append(string.Join(", ", Bcc));
        }

        return text.ToString();
    }

    /// <summary>Builds the message; on a missing file returns null and the error, so nothing is sent.</summary>
    private PmpMailMessage? BuildMessage(string target, out ErrorRecord? invalid)
    {
        invalid = null;
        var message = new PmpMailMessage
        {
            From = From!,
            Subject = Subject,
            Body = Body,
            BodyAsHtml = BodyAsHtml.IsPresent,
            SaveToSentItems = SaveToSentItems,
            Importance = Priority switch
            {
                MailPriority.High => PmpMailImportance.High,
                MailPriority.Low => PmpMailImportance.Low,
                _ => PmpMailImportance.Normal,
            },
        };
        AddAll(message.To, To);
        AddAll(message.Cc, Cc);
        AddAll(message.Bcc, Bcc);
        AddAll(message.ReplyTo, ReplyTo);

        if (Header is not null)
        {
            foreach (DictionaryEntry entry in Header)
            {
                message.Headers.Add(new KeyValuePair<string, string>(entry.Key.ToString() ?? string.Empty, LanguagePrimitives.ConvertTo<string>(entry.Value) ?? string.Empty));
            }
        }

        foreach (AttachmentPath attachment in Attachments ?? Array.Empty<AttachmentPath>())
        {
            string? resolved = ResolveAttachment(attachment.Path, target, out invalid);
            if (resolved is null)
            {
                return null;
            }

            message.Attachments.Add(PmpMailAttachment.FromFile(resolved));
        }

        if (InlineAttachment is not null)
        {
            foreach (DictionaryEntry entry in InlineAttachment)
            {
                string? resolved = ResolveAttachment(LanguagePrimitives.ConvertTo<string>(entry.Value) ?? string.Empty, target, out invalid);
                if (resolved is null)
                {
                    return null;
                }

                message.Attachments.Add(PmpMailAttachment.FromFile(resolved, contentId: entry.Key.ToString()));
            }
        }

        return message;
    }

    private string? ResolveAttachment(string path, string target, out ErrorRecord? invalid)
    {
        invalid = null;
        string resolved;
        try
        {
            resolved = ResolvePath(path);
        }
        catch (Exception ex) when (ex is ItemNotFoundException or ProviderNotFoundException or System.Management.Automation.DriveNotFoundException or NotSupportedException or PSArgumentException)
        {
            invalid = ErrorMapper.Build(ex, "PmpMail.AttachmentNotFound", ErrorCategory.ObjectNotFound, path, $"The attachment '{path}' cannot be resolved to a file: {ex.Message}", "Check the path. Nothing was sent.");
            return null;
        }

        if (!File.Exists(resolved))
        {
            var ex = new FileNotFoundException($"The attachment '{resolved}' does not exist; the message to {target} was not sent.", resolved);
            invalid = ErrorMapper.Build(ex, "PmpMail.AttachmentNotFound", ErrorCategory.ObjectNotFound, path, ex.Message, "Check the path. Nothing was sent.");
            return null;
        }

        return resolved;
    }

    private static void AddAll(IList<string> list, string[]? values)
    {
        foreach (string value in values ?? Array.Empty<string>())
        {
            if (!string.IsNullOrWhiteSpace(value))
            {
                list.Add(value);
            }
        }
    }
}
