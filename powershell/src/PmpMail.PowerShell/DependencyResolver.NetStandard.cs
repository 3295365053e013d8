using System;
using System.IO;
using System.Reflection;

namespace PmpMail;

/// <summary>
/// Windows PowerShell 5.1 (.NET Framework) loads a module's assemblies without binding redirects, so a request for
/// System.Runtime.CompilerServices.Unsafe 4.0.4.1 fails although 6.0.0.0 is in the Desktop/ folder. This answers
/// such a failed load with the folder's copy when it is the same or a newer version. It answers only for the
/// files the module ships, and only after the runtime's own binding has failed, so it never replaces an assembly
/// another module loaded.
/// </summary>
internal static class DependencyResolver
{
    private static readonly object Gate = new();
    private static string? _directory;

    public static void Register(string directory)
    {
        lock (Gate)
        {
            if (_directory is null)
            {
                _directory = directory;
                AppDomain.CurrentDomain.AssemblyResolve += Resolve;
            }
        }
    }

    public static void Unregister()
    {
        lock (Gate)
        {
            if (_directory is not null)
            {
                AppDomain.CurrentDomain.AssemblyResolve -= Resolve;
                _directory = null;
            }
        }
    }

    private static Assembly? Resolve(object? sender, ResolveEventArgs args)
    {
        string? directory = _directory;
        var requested = new AssemblyName(args.Name);
        if (directory is null || string.IsNullOrEmpty(requested.Name))
        {
            return null;
        }

        string path = Path.Combine(directory, requested.Name + ".dll");
        if (!File.Exists(path))
        {
            return null;
        }

        AssemblyName shipped = AssemblyName.GetAssemblyName(path);
        if (requested.Version is not null && shipped.Version is not null && shipped.Version < requested.Version)
        {
            return null;
        }

        return Assembly.LoadFrom(path);
    }
}
