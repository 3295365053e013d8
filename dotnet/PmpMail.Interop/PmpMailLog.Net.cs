using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using PmpMail.Interop.Native;

namespace PmpMail.Interop;

// net8.0: an UnmanagedCallersOnly function pointer; no delegate, nothing for the GC to collect.
public static unsafe partial class PmpMailLog
{
    private static delegate* unmanaged[Cdecl]<void*, PmpLogParams*, void> Callback => &Log;

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Log(void* userdata, PmpLogParams* parameters) => LogCore(userdata, parameters);
}
