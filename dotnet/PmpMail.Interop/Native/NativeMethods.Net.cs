using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PmpMail.Interop.Native;

// net8.0: source-generated LibraryImport; the signer is an UnmanagedCallersOnly function pointer.
internal static unsafe partial class NativeMethods
{
    [LibraryImport(Lib, EntryPoint = "pmp_version")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte* Version();

    [LibraryImport(Lib, EntryPoint = "pmp_status_name")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte* StatusName(uint status);

    [LibraryImport(Lib, EntryPoint = "pmp_client_new")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial uint ClientNew(byte* configJson, nuint configLength, out PmpClientHandle client);

    [LibraryImport(Lib, EntryPoint = "pmp_client_new_with_signer")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial uint ClientNewWithSigner(
        byte* configJson,
        nuint configLength,
        byte* certificateDer,
        nuint certificateDerLength,
        delegate* unmanaged[Cdecl]<void*, PmpSignParams*, byte*, nuint, nuint*, uint> sign,
        void* userdata,
        out PmpClientHandle client);

    [LibraryImport(Lib, EntryPoint = "pmp_client_new_with_assertion_callback")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial uint ClientNewWithAssertionCallback(
        byte* configJson,
        nuint configLength,
        delegate* unmanaged[Cdecl]<void*, PmpAssertionParams*, byte*, nuint, nuint*, uint> assertion,
        void* userdata,
        out PmpClientHandle client);

    /// <summary>Takes a raw pointer: only <see cref="PmpClientHandle.ReleaseHandle"/> calls it.</summary>
    [LibraryImport(Lib, EntryPoint = "pmp_client_free")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void ClientFree(IntPtr client);

    [LibraryImport(Lib, EntryPoint = "pmp_test_permissions")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial uint TestPermissions(PmpClientHandle client, byte* optionsJson, nuint optionsLength, out byte* reportOut);

    [LibraryImport(Lib, EntryPoint = "pmp_test_permissions_cancellable")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial uint TestPermissionsCancellable(PmpClientHandle client, byte* optionsJson, nuint optionsLength, PmpCancelHandle cancel, out byte* reportOut);

    /// <summary><c>pmp_send_mail_with_buffers</c> without a cancel handle: <paramref name="noCancel"/> is always zero (NULL).</summary>
    [LibraryImport(Lib, EntryPoint = "pmp_send_mail_with_buffers")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial uint SendMailWithBuffers(PmpClientHandle client, byte* messageJson, nuint messageLength, PmpBuffer* buffers, nuint bufferCount, IntPtr noCancel, out byte* resultOut);

    [LibraryImport(Lib, EntryPoint = "pmp_send_mail_with_buffers")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial uint SendMailWithBuffersCancellable(PmpClientHandle client, byte* messageJson, nuint messageLength, PmpBuffer* buffers, nuint bufferCount, PmpCancelHandle cancel, out byte* resultOut);

    [LibraryImport(Lib, EntryPoint = "pmp_send_batch_with_buffers")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial uint SendBatchWithBuffers(
        PmpClientHandle client,
        byte* messagesJson,
        nuint messagesLength,
        PmpBuffer* buffers,
        nuint bufferCount,
        byte* optionsJson,
        nuint optionsLength,
        delegate* unmanaged[Cdecl]<void*, PmpBatchProgressNative*, void> progress,
        void* userdata,
        PmpCancelHandle cancel,
        out byte* resultsOut);

    [LibraryImport(Lib, EntryPoint = "pmp_cancel_new")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial uint CancelNew(out PmpCancelHandle cancelOut);

    [LibraryImport(Lib, EntryPoint = "pmp_cancel_request")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void CancelRequest(IntPtr cancel);

    [LibraryImport(Lib, EntryPoint = "pmp_cancel_free")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void CancelFree(IntPtr cancel);

    /// <summary>Process-wide; <c>userdata</c> is always NULL here (see <see cref="PmpMailLog"/>).</summary>
    [LibraryImport(Lib, EntryPoint = "pmp_set_log_callback")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial uint SetLogCallback(delegate* unmanaged[Cdecl]<void*, PmpLogParams*, void> callback, void* userdata, uint maxLevel);

    [LibraryImport(Lib, EntryPoint = "pmp_last_error")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial uint LastError(out byte* errorOut);

    /// <summary>Frees a string the library allocated. Never use the runtime's allocator on these.</summary>
    [LibraryImport(Lib, EntryPoint = "pmp_string_free")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void StringFree(byte* value);

    /// <summary>The bytes of a NUL-terminated string, without the NUL (not copied).</summary>
    internal static ReadOnlySpan<byte> NullTerminated(byte* value) =>
        MemoryMarshal.CreateReadOnlySpanFromNullTerminated(value);
}
