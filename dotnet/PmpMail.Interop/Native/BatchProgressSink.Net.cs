using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PmpMail.Interop.Native;

// net8.0: an UnmanagedCallersOnly function pointer; no delegate, nothing for the GC to collect.
internal sealed partial class BatchProgressSink
{
    /// <summary>The callback handed to <c>pmp_send_batch</c>.</summary>
    internal static unsafe delegate* unmanaged[Cdecl]<void*, PmpBatchProgressNative*, void> Callback => &Report;

    // ReportCore catches every exception: none may unwind through the native frames.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void Report(void* userdata, PmpBatchProgressNative* progress) => ReportCore(userdata, progress);
}
