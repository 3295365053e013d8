using System;
using System.Runtime.InteropServices;

namespace PmpMail.Interop.Native;

// netstandard2.0 (.NET Framework hosts, Mono): classic DllImport, explicit cdecl, blittable arguments only, so
// nothing is marshalled with the ANSI default; the signer is a function pointer made from a delegate.
// The calls that can be a process's first go through NativeLibraryResolver.EnsureLoaded, which loads the library
// by path (there is no DllImport resolver on this target) or throws the error listing every path tried; the
// others need a client or a failure first, so the library is loaded by then.
internal static unsafe partial class NativeMethods
{
    internal static byte* Version()
    {
        NativeLibraryResolver.EnsureLoaded();
        return VersionImport();
    }

    internal static byte* StatusName(uint status)
    {
        NativeLibraryResolver.EnsureLoaded();
        return StatusNameImport(status);
    }

    internal static uint ClientNew(byte* configJson, nuint configLength, out PmpClientHandle client)
    {
        NativeLibraryResolver.EnsureLoaded();
        return ClientNewImport(configJson, configLength, out client);
    }

    internal static uint ClientNewWithSigner(
        byte* configJson,
        nuint configLength,
        byte* certificateDer,
        nuint certificateDerLength,
        IntPtr sign,
        void* userdata,
        out PmpClientHandle client)
    {
        NativeLibraryResolver.EnsureLoaded();
        return ClientNewWithSignerImport(configJson, configLength, certificateDer, certificateDerLength, sign, userdata, out client);
    }

    internal static uint ClientNewWithAssertionCallback(
        byte* configJson,
        nuint configLength,
        IntPtr assertion,
        void* userdata,
        out PmpClientHandle client)
    {
        NativeLibraryResolver.EnsureLoaded();
        return ClientNewWithAssertionCallbackImport(configJson, configLength, assertion, userdata, out client);
    }

    /// <summary>Process-wide; <c>userdata</c> is always NULL here (see <see cref="PmpMailLog"/>).</summary>
    internal static uint SetLogCallback(IntPtr callback, void* userdata, uint maxLevel)
    {
        NativeLibraryResolver.EnsureLoaded();
        return SetLogCallbackImport(callback, userdata, maxLevel);
    }

    [DllImport(Lib, EntryPoint = "pmp_set_log_callback", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    private static extern uint SetLogCallbackImport(IntPtr callback, void* userdata, uint maxLevel);

    [DllImport(Lib, EntryPoint = "pmp_version", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    private static extern byte* VersionImport();

    [DllImport(Lib, EntryPoint = "pmp_status_name", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    private static extern byte* StatusNameImport(uint status);

    [DllImport(Lib, EntryPoint = "pmp_client_new", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    private static extern uint ClientNewImport(byte* configJson, nuint configLength, out PmpClientHandle client);

    [DllImport(Lib, EntryPoint = "pmp_client_new_with_signer", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    private static extern uint ClientNewWithSignerImport(
        byte* configJson,
        nuint configLength,
        byte* certificateDer,
        nuint certificateDerLength,
        IntPtr sign,
        void* userdata,
        out PmpClientHandle client);

    [DllImport(Lib, EntryPoint = "pmp_client_new_with_assertion_callback", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    private static extern uint ClientNewWithAssertionCallbackImport(
        byte* configJson,
        nuint configLength,
        IntPtr assertion,
        void* userdata,
        out PmpClientHandle client);

    /// <summary>Takes a raw pointer: only <see cref="PmpClientHandle.ReleaseHandle"/> calls it.</summary>
    [DllImport(Lib, EntryPoint = "pmp_client_free", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern void ClientFree(IntPtr client);

    [DllImport(Lib, EntryPoint = "pmp_test_permissions", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern uint TestPermissions(PmpClientHandle client, byte* optionsJson, nuint optionsLength, out byte* reportOut);

    [DllImport(Lib, EntryPoint = "pmp_test_permissions_cancellable", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern uint TestPermissionsCancellable(PmpClientHandle client, byte* optionsJson, nuint optionsLength, PmpCancelHandle cancel, out byte* reportOut);

    /// <summary><c>pmp_send_mail_with_buffers</c> without a cancel handle: <paramref name="noCancel"/> is always zero (NULL).</summary>
    [DllImport(Lib, EntryPoint = "pmp_send_mail_with_buffers", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern uint SendMailWithBuffers(PmpClientHandle client, byte* messageJson, nuint messageLength, PmpBuffer* buffers, nuint bufferCount, IntPtr noCancel, out byte* resultOut);

    [DllImport(Lib, EntryPoint = "pmp_send_mail_with_buffers", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern uint SendMailWithBuffersCancellable(PmpClientHandle client, byte* messageJson, nuint messageLength, PmpBuffer* buffers, nuint bufferCount, PmpCancelHandle cancel, out byte* resultOut);

    [DllImport(Lib, EntryPoint = "pmp_send_batch_with_buffers", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern uint SendBatchWithBuffers(
        PmpClientHandle client,
        byte* messagesJson,
        nuint messagesLength,
        PmpBuffer* buffers,
        nuint bufferCount,
        byte* optionsJson,
        nuint optionsLength,
        IntPtr progress,
        void* userdata,
        PmpCancelHandle cancel,
        out byte* resultsOut);

    [DllImport(Lib, EntryPoint = "pmp_cancel_new", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern uint CancelNew(out PmpCancelHandle cancelOut);

    [DllImport(Lib, EntryPoint = "pmp_cancel_request", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern void CancelRequest(IntPtr cancel);

    [DllImport(Lib, EntryPoint = "pmp_cancel_free", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern void CancelFree(IntPtr cancel);

    [DllImport(Lib, EntryPoint = "pmp_last_error", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern uint LastError(out byte* errorOut);

    /// <summary>Frees a string the library allocated. Never use the runtime's allocator on these.</summary>
    [DllImport(Lib, EntryPoint = "pmp_string_free", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern void StringFree(byte* value);

    /// <summary>The bytes of a NUL-terminated string, without the NUL (not copied).</summary>
    internal static ReadOnlySpan<byte> NullTerminated(byte* value)
    {
        int length = 0;
        while (value[length] != 0)
        {
            length++;
        }

        return new ReadOnlySpan<byte>(value, length);
    }
}
