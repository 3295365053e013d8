using System;
using System.IO;
using System.Runtime.InteropServices;
using PmpMail.Interop.Native;

namespace PmpMail;

// netstandard2.0: the Desktop build, which Windows PowerShell 5.1 loads from the module's Desktop/ folder.
// - Its dependencies (System.Text.Json and the packages under it) were built against each other's exact
//   versions; .NET Framework has no binding redirects for a module, so DependencyResolver answers those loads.
// - The native library is the module's one copy, runtimes/<rid>/native/ in the module folder (the parent of
//   Desktop/), where PmpMail.Interop, which looks beside itself, does not look. On Windows it is loaded here
//   by full path; PmpMail.Interop's own search by module name (pmp_mail.dll) then finds it loaded.
//   PMP_MAIL_NATIVE_PATH still wins: CandidatePaths returns only that path when it is set.
public sealed partial class ModuleInitializer
{
    partial void OnImportEdition()
    {
        string? directory = Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location);
        if (string.IsNullOrEmpty(directory))
        {
            return;
        }

        DependencyResolver.Register(directory!);
        if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
        {
            PreloadNativeLibrary(Path.GetDirectoryName(directory));
        }
    }

    partial void OnRemoveEdition() => DependencyResolver.Unregister();

    private static void PreloadNativeLibrary(string? moduleDirectory)
    {
        foreach (string candidate in NativeLibraryResolver.CandidatePaths(moduleDirectory))
        {
            // A miss or a file that fails to load is left to PmpMail.Interop, whose error lists every path it tried.
            if (File.Exists(candidate) && LoadLibraryEx(candidate, IntPtr.Zero, LoadWithAlteredSearchPath) != IntPtr.Zero)
            {
                return;
            }
        }
    }

    private const uint LoadWithAlteredSearchPath = 0x00000008;

    [DllImport("kernel32.dll", EntryPoint = "LoadLibraryExW", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
    private static extern IntPtr LoadLibraryEx(string fileName, IntPtr reserved, uint flags);
}
