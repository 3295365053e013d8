using System.Management.Automation;
using PmpMail.Interop.Native;

namespace PmpMail;

/// <summary>
/// Runs when PowerShell imports the module: registers the native library resolver (no load yet, so
/// import stays fast), and on removal disposes the session connection.
/// </summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    /// <inheritdoc />
    public void OnImport() => NativeLibraryResolver.EnsureRegistered();

    /// <inheritdoc />
    public void OnRemove(PSModuleInfo psModuleInfo) => SessionConnection.Clear();
}
