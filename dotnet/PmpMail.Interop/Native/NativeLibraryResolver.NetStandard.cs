using System;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;

namespace PmpMail.Interop.Native;

// netstandard2.0 (.NET Framework hosts, Windows): there is no resolver API before .NET Core 3, so the library
// is loaded by full path up front and the DllImports, which bind by module name, find it already loaded.
public static partial class NativeLibraryResolver
{
    private const uint LoadWithAlteredSearchPath = 0x00000008;

    private static void Register()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
        {
            return;
        }

        string? directory = Path.GetDirectoryName(typeof(NativeLibraryResolver).Assembly.Location);
        try
        {
            Load(directory, Environment.GetEnvironmentVariable(PathOverrideVariable), null, null);
        }
        catch (DllNotFoundException)
        {
            // The P/Invoke will try the default search and report its own error.
        }
    }

    [DllImport("kernel32.dll", EntryPoint = "LoadLibraryExW", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
    private static extern IntPtr LoadLibraryEx(string fileName, IntPtr reserved, uint flags);

    private static IntPtr LoadFile(string path)
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
        {
            throw new DllNotFoundException("Loading by path needs .NET 8 or later on this platform.");
        }

        IntPtr handle = LoadLibraryEx(path, IntPtr.Zero, LoadWithAlteredSearchPath);
        return handle != IntPtr.Zero ? handle : throw new DllNotFoundException($"LoadLibraryEx failed with error {Marshal.GetLastWin32Error()}.");
    }

    private static bool TryLoadDefault(Assembly assembly, DllImportSearchPath? searchPath, out IntPtr handle)
    {
        handle = IntPtr.Zero;
        return false;
    }
}
