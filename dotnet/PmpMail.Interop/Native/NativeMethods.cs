using System;

namespace PmpMail.Interop.Native;

/// <summary>
/// Every P/Invoke into the native library. Raw and internal: callers use <see cref="PmpMailClient"/>.
/// Rust <c>extern "C"</c> is cdecl, so every import says so (win-x86 would default to stdcall).
/// Strings the library returns are <c>byte*</c> and must go back through <c>StringFree</c>.
/// The imports themselves are per target: <c>NativeMethods.Net.cs</c> (LibraryImport) and
/// <c>NativeMethods.NetStandard.cs</c> (DllImport), chosen by the project file.
/// </summary>
internal static unsafe partial class NativeMethods
{
    /// <summary>Logical library name; <see cref="NativeLibraryResolver"/> maps it to a file per platform.</summary>
    internal const string Lib = "pmp_mail";

    /// <summary>Reads a static NUL-terminated UTF-8 string (not freed).</summary>
    internal static string ReadStaticString(byte* value)
    {
        if (value == null)
        {
            return string.Empty;
        }

        ReadOnlySpan<byte> utf8 = NullTerminated(value);
        fixed (byte* start = utf8)
        {
            return System.Text.Encoding.UTF8.GetString(start, utf8.Length);
        }
    }
}
