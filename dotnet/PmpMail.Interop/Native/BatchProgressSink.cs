using System;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace PmpMail.Interop.Native;

/// <summary>
/// The state behind one <c>pmp_send_batch</c> call's progress callback, passed as its userdata through a GCHandle
/// that lives exactly as long as the call. The entry point is per target: <c>BatchProgressSink.Net.cs</c>
/// (UnmanagedCallersOnly) and <c>BatchProgressSink.NetStandard.cs</c> (a delegate).
/// </summary>
/// <remarks>
/// The library calls the callback on the thread that called <c>pmp_send_batch</c>, one call at a time, so the
/// handler runs on the caller's thread and nothing here needs a lock. An exception the handler throws must not unwind
/// through the native frames: it is kept, the batch is cancelled (messages not yet sent are never sent), the handler is
/// not called again, and the caller rethrows it (<see cref="Failure"/>) after the native call has returned.
/// </remarks>
internal sealed partial class BatchProgressSink
{
    private readonly Action<PmpBatchProgress> _handler;
    private readonly PmpCancelHandle _cancel;
    private ExceptionDispatchInfo? _failure;

    public BatchProgressSink(Action<PmpBatchProgress> handler, PmpCancelHandle cancel)
    {
        _handler = handler;
        _cancel = cancel;
    }

    /// <summary>The handler's exception, to be rethrown as it was thrown (type and stack trace); null if it threw none.</summary>
    public ExceptionDispatchInfo? Failure => _failure;

    /// <summary>The body of the callback on both targets. Catches everything: nothing may unwind into native code.</summary>
    private static unsafe void ReportCore(void* userdata, PmpBatchProgressNative* progress)
    {
        BatchProgressSink? sink = null;
        try
        {
            sink = userdata == null ? null : GCHandle.FromIntPtr((IntPtr)userdata).Target as BatchProgressSink;
            if (sink is null || progress == null || sink._failure is not null)
            {
                return;
            }

            sink._handler(new PmpBatchProgress(
                Count(progress->Total),
                Count(progress->Done),
                Count(progress->Sent),
                Count(progress->Failed),
                Count(progress->Unknown),
                Count(progress->Cancelled),
                Count(progress->WaitingForThrottle),
                TimeSpan.FromMilliseconds(Math.Min(progress->ThrottledForMs, uint.MaxValue))));
        }
        catch (Exception ex)
        {
            try
            {
                if (sink is not null)
                {
                    sink._failure = ExceptionDispatchInfo.Capture(ex);
                    sink._cancel.Request();
                }
            }
            catch
            {
                // Nothing may leave the callback; the batch then runs to its end and the failure is still thrown.
            }
        }
    }

    // A batch holds at most 100,000 messages (contracts §4b), so a count always fits.
    private static int Count(nuint value) => value > int.MaxValue ? int.MaxValue : (int)value;
}
