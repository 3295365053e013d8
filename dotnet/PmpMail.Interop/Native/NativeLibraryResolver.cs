using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;

namespace PmpMail.Interop.Native;

/// <summary>
/// Finds the native library for this process. PowerShell's own fallback probes only a flat
/// <c>&lt;os&gt;-&lt;arch&gt;/</c> folder without the <c>lib</c> prefix, and a module has no deps.json,
/// so the assembly registers its own resolver for <c>runtimes/&lt;rid&gt;/native/</c>.
/// How it hooks into loading is per target: <c>NativeLibraryResolver.Net.cs</c> (a DllImport resolver) and
/// <c>NativeLibraryResolver.NetStandard.cs</c> (a load by full path before the first call: LoadLibraryEx on
/// .NET Framework, dlopen plus a Mono dllmap entry on Mono).
/// </summary>
public static partial class NativeLibraryResolver
{
    /// <summary>Environment variable naming the native library file (or its folder) to load instead; when set, nothing else is tried.</summary>
    public const string PathOverrideVariable = "PMP_MAIL_NATIVE_PATH";

    private static readonly object Gate = new();
    private static bool _registered;

    /// <summary>
    /// Registers the resolver for this assembly. Safe to call more than once and from several threads:
    /// <c>NativeLibrary.SetDllImportResolver</c> throws on a second registration.
    /// </summary>
    public static void EnsureRegistered()
    {
        lock (Gate)
        {
            if (_registered)
            {
                return;
            }

            Register();
            _registered = true;
        }
    }

    /// <summary>The platform file name: pmp_mail.dll, libpmp_mail.so or libpmp_mail.dylib.</summary>
    public static string PlatformFileName
    {
        get
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
            {
                return NativeMethods.Lib + ".dll";
            }

            return RuntimeInformation.IsOSPlatform(OSPlatform.OSX)
                ? "lib" + NativeMethods.Lib + ".dylib"
                : "lib" + NativeMethods.Lib + ".so";
        }
    }

    /// <summary>The runtime identifier folder used under <c>runtimes/</c>, e.g. linux-x64, win-arm64, osx-arm64.</summary>
    public static string RuntimeIdentifier
    {
        get
        {
            string os = RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "win"
                : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "osx"
                : "linux";
            string arch = RuntimeInformation.ProcessArchitecture switch
            {
                Architecture.X64 => "x64",
                Architecture.X86 => "x86",
                Architecture.Arm64 => "arm64",
                Architecture.Arm => "arm",
                var other => other.ToString().ToLowerInvariant(),
            };
            return os + "-" + arch;
        }
    }

    /// <summary>
    /// Every file the resolver tries, in order, for an assembly living in <paramref name="assemblyDirectory"/>.
    /// </summary>
    public static IReadOnlyList<string> CandidatePaths(string? assemblyDirectory) =>
        CandidatePaths(assemblyDirectory, Environment.GetEnvironmentVariable(PathOverrideVariable));

    internal static IReadOnlyList<string> CandidatePaths(string? assemblyDirectory, string? overridePath)
    {
        var paths = new List<string>();
        string fileName = PlatformFileName;
        if (!string.IsNullOrWhiteSpace(overridePath))
        {
            // A pinned path is the only candidate: silently falling back to another copy would hide the mistake.
            paths.Add(Directory.Exists(overridePath) ? Path.Combine(overridePath, fileName) : overridePath!);
            return paths;
        }

        if (!string.IsNullOrEmpty(assemblyDirectory))
        {
            paths.Add(Path.Combine(assemblyDirectory, "runtimes", RuntimeIdentifier, "native", fileName));
            paths.Add(Path.Combine(assemblyDirectory, fileName));
        }

        return paths;
    }

    /// <summary>Loads from the candidates or throws a <see cref="DllNotFoundException"/> naming every path searched.</summary>
    internal static IntPtr Load(string? assemblyDirectory, string? overridePath, Assembly? assembly, DllImportSearchPath? searchPath)
    {
        var searched = new List<string>();
        foreach (string candidate in CandidatePaths(assemblyDirectory, overridePath))
        {
            if (!File.Exists(candidate))
            {
                searched.Add(candidate + " (not found)");
                continue;
            }

            try
            {
                return LoadFile(candidate);
            }
            catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException)
            {
                // A file that exists but does not load (wrong architecture, missing dependency) says why.
                searched.Add(candidate + " (exists but failed to load: " + ex.Message + ")");
            }
        }

        // Last: the runtime's normal probing (app deps.json, LD_LIBRARY_PATH, PATH ...), unless the user
        // pinned a path: then a miss must not silently pick up some other copy.
        if (string.IsNullOrWhiteSpace(overridePath) && assembly is not null)
        {
            searched.Add(NativeMethods.Lib + " (default runtime and OS search)");
            if (TryLoadDefault(assembly, searchPath, out IntPtr fallback))
            {
                return fallback;
            }
        }

        string advice = string.IsNullOrWhiteSpace(overridePath)
            ? $"Set {PathOverrideVariable} to the library file, or reinstall so that runtimes/{RuntimeIdentifier}/native/ is next to PmpMail.Interop.dll."
            : $"{PathOverrideVariable} is set, so nothing else was tried: correct it or remove it.";
        throw new DllNotFoundException(
            $"Failed to load the pmp-mail native library '{PlatformFileName}' for {RuntimeIdentifier}. " +
            $"Searched: {string.Join("; ", searched)}. {advice}");
    }
}
