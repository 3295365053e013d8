using System;
using System.Collections.Generic;
using System.Globalization;

namespace PmpMail.Interop;

/// <summary>
/// How a batch (<see cref="PmpMailClient.SendMailBatch"/>) may use the client's send slots (contracts §4b). A null
/// property means the client's own <see cref="PmpMailConfig.Sending"/> limit, which is also the cap: a batch can go
/// slower than its client, not faster.
/// </summary>
public sealed class PmpBatchOptions
{
    /// <summary>Sends in flight per sending mailbox, 1 to 16 (checked by the native library); null for the client's limit.</summary>
    public int? MaxConcurrentPerMailbox { get; set; }

    /// <summary>
    /// Sends in flight in all, 1 to 64 (checked by the native library); null for the client's limit. 1 sends the
    /// messages one by one in input order.
    /// </summary>
    public int? MaxConcurrent { get; set; }

    /// <summary>
    /// Stop at the first message that failed or whose outcome is unknown: messages that have not started are reported
    /// <see cref="PmpBatchItemStatus.Cancelled"/> and never sent; sends in flight run to their answer. Default false
    /// (every message is tried).
    /// </summary>
    public bool StopOnFailure { get; set; }
}

/// <summary>Where a batch stands: passed to the progress handler of <see cref="PmpMailClient.SendMailBatch"/>.</summary>
public readonly struct PmpBatchProgress
{
    internal PmpBatchProgress(int total, int done, int sent, int failed, int unknown, int cancelled, int waitingForThrottle, TimeSpan throttledFor)
    {
        Total = total;
        Done = done;
        Sent = sent;
        Failed = failed;
        Unknown = unknown;
        Cancelled = cancelled;
        WaitingForThrottle = waitingForThrottle;
        ThrottledFor = throttledFor;
    }

    /// <summary>Messages in the batch.</summary>
    public int Total { get; }

    /// <summary>Messages with a final status: <see cref="Sent"/> + <see cref="Failed"/> + <see cref="Unknown"/> + <see cref="Cancelled"/>.</summary>
    public int Done { get; }

    /// <summary>Messages sent.</summary>
    public int Sent { get; }

    /// <summary>Messages that failed (never sent).</summary>
    public int Failed { get; }

    /// <summary>Messages whose answer was lost after Graph got them: they may have been sent, and are never sent again.</summary>
    public int Unknown { get; }

    /// <summary>Messages the cancellation stopped before they were sent.</summary>
    public int Cancelled { get; }

    /// <summary>Messages not yet done whose sending mailbox is paused because Graph throttled it.</summary>
    public int WaitingForThrottle { get; }

    /// <summary>How long the longest such pause still lasts (<see cref="TimeSpan.Zero"/>: none).</summary>
    public TimeSpan ThrottledFor { get; }

    /// <summary>e.g. <c>12/40 done (sent 11, failed 1, unknown 0, cancelled 0)</c>.</summary>
    public override string ToString() => string.Format(
        CultureInfo.InvariantCulture,
        "{0}/{1} done (sent {2}, failed {3}, unknown {4}, cancelled {5}){6}",
        Done,
        Total,
        Sent,
        Failed,
        Unknown,
        Cancelled,
        WaitingForThrottle > 0 ? $", {WaitingForThrottle} waiting {ThrottledFor.TotalSeconds:0.#} s for throttling" : string.Empty);
}

/// <summary>What happened to one message of a batch.</summary>
public enum PmpBatchItemStatus
{
    /// <summary>Graph accepted it; <see cref="PmpBatchItem.Result"/> says how.</summary>
    Sent,

    /// <summary>
    /// Not sent: a message the library rejected, a Graph error, a failure before sending. <see cref="PmpBatchItem.Error"/>
    /// says why.
    /// </summary>
    Failed,

    /// <summary>
    /// The answer was lost after the request reached Graph: the message may have been sent, and it is never sent again
    /// (the single send's rule). <see cref="PmpBatchItem.Error"/> is a <see cref="PmpMailOutcomeUnknownException"/> or
    /// another exception whose outcome is <c>unknown</c>.
    /// </summary>
    Unknown,

    /// <summary>The batch was cancelled before this message was sent: it was never sent.</summary>
    Cancelled,
}

/// <summary>One message's result in a <see cref="PmpBatchResult"/>.</summary>
public sealed class PmpBatchItem
{
    internal PmpBatchItem(int index, PmpBatchItemStatus status, TimeSpan waited, PmpSendResult? result, PmpMailException? error)
    {
        Index = index;
        Status = status;
        Waited = waited;
        Result = result;
        Error = error;
    }

    /// <summary>The message's position in the input, from 0.</summary>
    public int Index { get; }

    /// <summary>Sent, failed, unknown or cancelled.</summary>
    public PmpBatchItemStatus Status { get; }

    /// <summary>How long the message waited on purpose: for a send slot, out a throttled mailbox's pause, for the mailbox budget.</summary>
    public TimeSpan Waited { get; }

    /// <summary>The send result of a <see cref="PmpBatchItemStatus.Sent"/> message; null otherwise.</summary>
    public PmpSendResult? Result { get; }

    /// <summary>
    /// Why the message was not (surely) sent: the exception <see cref="PmpMailClient.SendMail(PmpMailMessage)"/> would
    /// have thrown for the same error document (a <see cref="PmpMailThrottledException"/>, a
    /// <see cref="PmpMailOutcomeUnknownException"/>, a <see cref="PmpMailCancelledException"/>, …). Null when sent.
    /// Not thrown: the batch returns it.
    /// </summary>
    public PmpMailException? Error { get; }

    /// <summary>e.g. <c>#3 Failed: …</c>.</summary>
    public override string ToString() => Error is null
        ? string.Format(CultureInfo.InvariantCulture, "#{0} {1}", Index, Status)
        : string.Format(CultureInfo.InvariantCulture, "#{0} {1}: {2}", Index, Status, Error.Message);
}

/// <summary>The result of a batch: one item per message, in input order (contracts §4b).</summary>
public sealed class PmpBatchResult
{
    internal PmpBatchResult(int total, int sent, int failed, int unknown, int cancelled, TimeSpan duration, IReadOnlyList<PmpBatchItem> items)
    {
        Total = total;
        Sent = sent;
        Failed = failed;
        Unknown = unknown;
        Cancelled = cancelled;
        Duration = duration;
        Items = items;
    }

    /// <summary>Messages in the batch.</summary>
    public int Total { get; }

    /// <summary>Messages sent.</summary>
    public int Sent { get; }

    /// <summary>Messages that failed (never sent).</summary>
    public int Failed { get; }

    /// <summary>Messages that may have been sent (see <see cref="PmpBatchItemStatus.Unknown"/>).</summary>
    public int Unknown { get; }

    /// <summary>Messages the cancellation stopped before they were sent.</summary>
    public int Cancelled { get; }

    /// <summary>Wall time of the whole batch.</summary>
    public TimeSpan Duration { get; }

    /// <summary>One item per message, in input order (<see cref="PmpBatchItem.Index"/> is the position).</summary>
    public IReadOnlyList<PmpBatchItem> Items { get; }

    /// <summary>e.g. <c>40 messages: sent 38, failed 1, unknown 1, cancelled 0 in 2.1 s</c>.</summary>
    public override string ToString() => string.Format(
        CultureInfo.InvariantCulture,
        "{0} messages: sent {1}, failed {2}, unknown {3}, cancelled {4} in {5:0.0} s",
        Total,
        Sent,
        Failed,
        Unknown,
        Cancelled,
        Duration.TotalSeconds);
}
