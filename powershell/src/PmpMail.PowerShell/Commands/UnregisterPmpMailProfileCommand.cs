using System.Management.Automation;

namespace PmpMail.Commands;

/// <summary>Deletes saved profiles.</summary>
[Cmdlet(VerbsLifecycle.Unregister, "PmpMailProfile", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class UnregisterPmpMailProfileCommand : PSCmdlet
{
    /// <summary>Profile names (binds from Get-PmpMailProfile output).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ProfileNameCompleter))]
    public string[] Name { get; set; } = System.Array.Empty<string>();

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        foreach (string name in Name)
        {
            try
            {
                ProfileStore.ValidateName(name);
                if (!ProfileStore.Exists(name))
                {
                    throw new PmpMailSetupException("ProfileNotFound", $"There is no profile named '{name}' in '{ProfileStore.DirectoryPath}'.", "List profiles with Get-PmpMailProfile.");
                }

                if (ShouldProcess(ProfileStore.PathOf(name), $"Delete profile '{name}'"))
                {
                    ProfileStore.Remove(name);
                }
            }
            catch (PmpMailSetupException ex)
            {
                WriteError(ErrorMapper.ToErrorRecord(ex, name));
            }
        }
    }
}
