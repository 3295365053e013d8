using System;
using System.Runtime.InteropServices;

namespace PmpMail.Interop.Native;

// netstandard2.0 (.NET Framework hosts): a cdecl delegate kept in a static field.
internal sealed partial class BatchProgressSink
{
    // A static field keeps the delegate (and so the thunk behind the function pointer) alive for the process.
    private static readonly unsafe ReportDelegate ReportKeepAlive = ReportCore;

    /// <summary>The callback handed to <c>pmp_send_batch</c>.</summary>
    internal static readonly IntPtr Callback = Marshal.GetFunctionPointerForDelegate(ReportKeepAlive);

    // ReportCore catches every exception: none may unwind through the native frames.
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private unsafe delegate void ReportDelegate(void* userdata, PmpBatchProgressNative* progress);
}
