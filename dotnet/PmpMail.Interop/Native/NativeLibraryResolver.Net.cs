using System;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;

namespace PmpMail.Interop.Native;

// net8.0: NativeLibrary.SetDllImportResolver maps "pmp_mail" to a file whenever a P/Invoke first binds.
public static partial class NativeLibraryResolver
{
    private static void Register() =>
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraryResolver).Assembly, Resolve);

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != NativeMethods.Lib)
        {
            return IntPtr.Zero;
        }

        string? assemblyDirectory = string.IsNullOrEmpty(assembly.Location) ? AppContext.BaseDirectory : Path.GetDirectoryName(assembly.Location);
        return Load(assemblyDirectory, Environment.GetEnvironmentVariable(PathOverrideVariable), assembly, searchPath);
    }

    private static IntPtr LoadFile(string path) => NativeLibrary.Load(path);

    private static bool TryLoadDefault(Assembly assembly, DllImportSearchPath? searchPath, out IntPtr handle) =>
        NativeLibrary.TryLoad(NativeMethods.Lib, assembly, searchPath, out handle);
}
