using System.Management.Automation;
using PmpMail.Interop.Native;

namespace PmpMail;

/// <summary>
/// Runs when PowerShell imports the module: prepares what this edition's build needs
/// (<c>ModuleInitializer.NetStandard.cs</c> for Windows PowerShell 5.1), registers the native library
/// resolver (no load yet, so import stays fast), and on removal disposes the session connection.
/// </summary>
public sealed partial class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    /// <inheritdoc />
    public void OnImport()
    {
        OnImportEdition();
        NativeLibraryResolver.EnsureRegistered();
    }

    /// <inheritdoc />
    public void OnRemove(PSModuleInfo psModuleInfo)
    {
        SessionConnection.Clear();
        OnRemoveEdition();
    }

    partial void OnImportEdition();

    partial void OnRemoveEdition();
}
