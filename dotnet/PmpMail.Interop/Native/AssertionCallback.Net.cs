using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PmpMail.Interop.Native;

// net8.0: an UnmanagedCallersOnly function pointer; no delegate, nothing for the GC to collect.
internal sealed partial class AssertionCallback
{
    /// <summary>The callback handed to <c>pmp_client_new_with_assertion_callback</c>.</summary>
    internal static unsafe delegate* unmanaged[Cdecl]<void*, PmpAssertionParams*, byte*, nuint, nuint*, uint> Callback => &Assert;

    // AssertCore catches every exception: none may unwind through the native frames.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe uint Assert(void* userdata, PmpAssertionParams* parameters, byte* assertionOut, nuint assertionCapacity, nuint* assertionLengthOut) =>
        AssertCore(userdata, parameters, assertionOut, assertionCapacity, assertionLengthOut);
}
