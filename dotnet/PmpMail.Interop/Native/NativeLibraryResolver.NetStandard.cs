using System;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace PmpMail.Interop.Native;

// netstandard2.0 (.NET Framework hosts, Windows PowerShell 5.1, Mono): there is no resolver API before .NET Core 3,
// so the library is loaded by full path before the first call, from the same candidates as on net8.0
// (PMP_MAIL_NATIVE_PATH, else runtimes/<rid>/native/ beside this assembly, else beside it, else the OS search):
//  - Windows: LoadLibraryEx by full path. The DllImports bind by module name (pmp_mail.dll), and Windows hands
//    a bare module name the module already loaded under that name.
//  - Mono on Linux and macOS: dlopen by full path (so a file that does not load says why), then a global Mono
//    dllmap entry (mono_dllmap_insert, no .config file) sends DllImport("pmp_mail") to that file. A preload alone
//    does not do it there: the dynamic loader matches a bare name against libraries loaded by path only through
//    their SONAME, and the Rust cdylib has none.
//  - Any other runtime running this build (.NET Core 2.x/3.x) probes the app's deps.json itself: nothing is done.
// The first call that needs the library (NativeVersion, client creation) throws the DllNotFoundException that
// lists every path tried; EnsureRegistered (the module's OnImport, PmpMailClient's type initializer) only tries.
public static partial class NativeLibraryResolver
{
    private const uint LoadWithAlteredSearchPath = 0x00000008;
    private const int RtldNow = 2;

    private static readonly bool IsMono = Type.GetType("Mono.Runtime") is not null;
    private static readonly bool IsWindows = RuntimeInformation.IsOSPlatform(OSPlatform.Windows);
    private static readonly bool IsMacOS = RuntimeInformation.IsOSPlatform(OSPlatform.OSX);

    private static volatile bool _loaded;

    /// <summary>True where this build loads the library itself; elsewhere the runtime's own probing does.</summary>
    private static bool PreloadNeeded => IsWindows || IsMono;

    private static void Register()
    {
        try
        {
            EnsureLoaded();
        }
        catch (DllNotFoundException)
        {
            // Not fatal here (an import or a type initializer must not fail for it): the first call that needs
            // the library retries and throws this error, with every path tried.
        }
    }

    /// <summary>
    /// Loads the library if it is not loaded yet, or throws a <see cref="DllNotFoundException"/> naming every path
    /// searched. Called before each P/Invoke that can be a process's first; cheap once loaded. A failure is not
    /// remembered: the next call reads <c>PMP_MAIL_NATIVE_PATH</c> and the folders again.
    /// </summary>
    internal static void EnsureLoaded()
    {
        if (_loaded || !PreloadNeeded)
        {
            return;
        }

        lock (Gate)
        {
            if (_loaded)
            {
                return;
            }

            Assembly assembly = typeof(NativeLibraryResolver).Assembly;
            string? directory = string.IsNullOrEmpty(assembly.Location) ? AppDomain.CurrentDomain.BaseDirectory : Path.GetDirectoryName(assembly.Location);
            Load(directory, Environment.GetEnvironmentVariable(PathOverrideVariable), assembly, null);
            _loaded = true;
        }
    }

    private static IntPtr LoadFile(string path)
    {
        if (IsWindows)
        {
            IntPtr module = Kernel32.LoadLibraryEx(path, IntPtr.Zero, LoadWithAlteredSearchPath);
            return module != IntPtr.Zero ? module : throw new DllNotFoundException($"LoadLibraryEx failed with error {Marshal.GetLastWin32Error()}.");
        }

        if (!IsMono)
        {
            throw new DllNotFoundException("Loading by path needs .NET Framework on Windows, Mono, or .NET 8 or later.");
        }

        IntPtr handle = DlOpen(path);
        try
        {
            MonoRuntime.DllMapInsert(IntPtr.Zero, Utf8(NativeMethods.Lib), null, Utf8(path), null);
        }
        catch (EntryPointNotFoundException ex)
        {
            throw new DllNotFoundException("Loaded, but this Mono does not export mono_dllmap_insert to point DllImport at it: " + ex.Message);
        }

        return handle;
    }

    private static bool TryLoadDefault(Assembly assembly, DllImportSearchPath? searchPath, out IntPtr handle)
    {
        handle = IntPtr.Zero;
        try
        {
            // The OS search by name; a DllImport of the same name then finds the same file (no mapping needed).
            handle = IsWindows
                ? Kernel32.LoadLibraryEx(PlatformFileName, IntPtr.Zero, 0)
                : IsMono ? DlOpen(PlatformFileName) : IntPtr.Zero;
        }
        catch (DllNotFoundException)
        {
        }

        return handle != IntPtr.Zero;
    }

    /// <summary>dlopen(path, RTLD_NOW), or a DllNotFoundException with dlerror()'s reason.</summary>
    private static unsafe IntPtr DlOpen(string path)
    {
        byte[] name = Utf8(path);
        try
        {
            IntPtr handle = IsMacOS ? LibSystem.DlOpen(name, RtldNow) : LibDl.DlOpen(name, RtldNow);
            if (handle != IntPtr.Zero)
            {
                return handle;
            }

            byte* reason = IsMacOS ? LibSystem.DlError() : LibDl.DlError();
            throw new DllNotFoundException("dlopen: " + (reason == null ? "unknown error" : NativeMethods.ReadStaticString(reason)));
        }
        catch (EntryPointNotFoundException ex)
        {
            throw new DllNotFoundException("dlopen is not available: " + ex.Message);
        }
    }

    /// <summary>A NUL-terminated UTF-8 copy, so no string goes through the ANSI marshaller.</summary>
    private static byte[] Utf8(string value)
    {
        byte[] bytes = new byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, 0, value.Length, bytes, 0);
        return bytes;
    }

    private static class Kernel32
    {
        [DllImport("kernel32.dll", EntryPoint = "LoadLibraryExW", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        internal static extern IntPtr LoadLibraryEx(string fileName, IntPtr reserved, uint flags);
    }

    // glibc: dlopen lives in libdl.so.2 (a compatibility stub forwarding to libc from glibc 2.34 on).
    private static unsafe class LibDl
    {
        [DllImport("libdl.so.2", EntryPoint = "dlopen", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern IntPtr DlOpen(byte[] fileName, int flags);

        [DllImport("libdl.so.2", EntryPoint = "dlerror", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern byte* DlError();
    }

    private static unsafe class LibSystem
    {
        [DllImport("/usr/lib/libSystem.dylib", EntryPoint = "dlopen", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern IntPtr DlOpen(byte[] fileName, int flags);

        [DllImport("/usr/lib/libSystem.dylib", EntryPoint = "dlerror", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern byte* DlError();
    }

    // The Mono runtime's embedding API, exported by the process itself ("__Internal").
    private static class MonoRuntime
    {
        /// <summary>mono_dllmap_insert(image, dll, func, tdll, tfunc): a NULL image makes a process-wide entry; the strings are copied.</summary>
        [DllImport("__Internal", EntryPoint = "mono_dllmap_insert", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern void DllMapInsert(IntPtr image, byte[] dll, byte[]? func, byte[] targetDll, byte[]? targetFunc);
    }
}
