using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PmpMail.Interop.Native;

/// <summary>Signing request passed to the host signer (<c>pmp_sign_params</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PmpSignParams
{
    public uint Algorithm;
    public byte* Data;
    public nuint DataLength;
}

/// <summary>
/// Every P/Invoke into the native library. Raw and internal: callers use <see cref="PmpMailClient"/>.
/// Rust <c>extern "C"</c> is cdecl, so every import says so (win-x86 would default to stdcall).
/// Strings the library returns are <c>byte*</c> and must go back through <see cref="StringFree"/>.
/// </summary>
internal static unsafe partial class NativeMethods
{
    /// <summary>Logical library name; <see cref="NativeLibraryResolver"/> maps it to a file per platform.</summary>
    internal const string Lib = "pmp_mail";

#if NET
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

    /// <summary>Takes a raw pointer: only <see cref="PmpClientHandle.ReleaseHandle"/> calls it.</summary>
    [LibraryImport(Lib, EntryPoint = "pmp_client_free")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void ClientFree(IntPtr client);

    [LibraryImport(Lib, EntryPoint = "pmp_test_permissions")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial uint TestPermissions(PmpClientHandle client, byte* optionsJson, nuint optionsLength, out byte* reportOut);

    [LibraryImport(Lib, EntryPoint = "pmp_send_mail")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial uint SendMail(PmpClientHandle client, byte* messageJson, nuint messageLength, out byte* resultOut);

    [LibraryImport(Lib, EntryPoint = "pmp_last_error")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial uint LastError(out byte* errorOut);

    /// <summary>Frees a string the library allocated. Never use the runtime's allocator on these.</summary>
    [LibraryImport(Lib, EntryPoint = "pmp_string_free")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void StringFree(byte* value);

    /// <summary>Reads a static NUL-terminated UTF-8 string (not freed).</summary>
    internal static string ReadStaticString(byte* value) =>
        value == null ? string.Empty : Marshal.PtrToStringUTF8((IntPtr)value) ?? string.Empty;
#else
    // netstandard2.0 (.NET Framework hosts): classic DllImport, explicit cdecl, blittable arguments only, so
    // nothing is marshalled with the ANSI default; the signer is a function pointer made from a delegate.
    [DllImport(Lib, EntryPoint = "pmp_version", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern byte* Version();

    [DllImport(Lib, EntryPoint = "pmp_status_name", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern byte* StatusName(uint status);

    [DllImport(Lib, EntryPoint = "pmp_client_new", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern uint ClientNew(byte* configJson, nuint configLength, out PmpClientHandle client);

    [DllImport(Lib, EntryPoint = "pmp_client_new_with_signer", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern uint ClientNewWithSigner(
        byte* configJson,
        nuint configLength,
        byte* certificateDer,
        nuint certificateDerLength,
        IntPtr sign,
        void* userdata,
        out PmpClientHandle client);

    [DllImport(Lib, EntryPoint = "pmp_client_free", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern void ClientFree(IntPtr client);

    [DllImport(Lib, EntryPoint = "pmp_test_permissions", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern uint TestPermissions(PmpClientHandle client, byte* optionsJson, nuint optionsLength, out byte* reportOut);

    [DllImport(Lib, EntryPoint = "pmp_send_mail", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern uint SendMail(PmpClientHandle client, byte* messageJson, nuint messageLength, out byte* resultOut);

    [DllImport(Lib, EntryPoint = "pmp_last_error", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern uint LastError(out byte* errorOut);

    [DllImport(Lib, EntryPoint = "pmp_string_free", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
    internal static extern void StringFree(byte* value);

    /// <summary>Reads a static NUL-terminated UTF-8 string (not freed).</summary>
    internal static string ReadStaticString(byte* value)
    {
        if (value == null)
        {
            return string.Empty;
        }

        int length = 0;
        while (value[length] != 0)
        {
            length++;
        }

        return System.Text.Encoding.UTF8.GetString(value, length);
    }
#endif
}
