using System;
using System.Runtime.InteropServices;
using PmpMail.Interop.Native;

namespace PmpMail.Interop;

// netstandard2.0 (.NET Framework hosts): a cdecl delegate kept in a static field for the process's lifetime.
public static unsafe partial class PmpMailLog
{
    private static readonly LogDelegate LogKeepAlive = LogCore;

    private static readonly IntPtr Callback = Marshal.GetFunctionPointerForDelegate(LogKeepAlive);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void LogDelegate(void* userdata, PmpLogParams* parameters);
}
