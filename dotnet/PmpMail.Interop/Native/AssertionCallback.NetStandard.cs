using System;
using System.Runtime.InteropServices;

namespace PmpMail.Interop.Native;

// netstandard2.0 (.NET Framework hosts): a cdecl delegate kept in a static field.
internal sealed partial class AssertionCallback
{
    // A static field keeps the delegate (and so the thunk behind the function pointer) alive for the process.
    private static readonly unsafe AssertDelegate AssertKeepAlive = AssertCore;

    /// <summary>The callback handed to <c>pmp_client_new_with_assertion_callback</c>.</summary>
    internal static readonly IntPtr Callback = Marshal.GetFunctionPointerForDelegate(AssertKeepAlive);

    // AssertCore catches every exception: none may unwind through the native frames.
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private unsafe delegate uint AssertDelegate(void* userdata, PmpAssertionParams* parameters, byte* assertionOut, nuint assertionCapacity, nuint* assertionLengthOut);
}
