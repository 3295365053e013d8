using System.Management.Automation;

namespace PmpMail.Commands;

/// <summary>Lists saved profiles (no secrets are ever shown or stored).</summary>
[Cmdlet(VerbsCommon.Get, "PmpMailProfile")]
[OutputType(typeof(PmpMailProfile))]
public sealed class GetPmpMailProfileCommand : PSCmdlet
{
    /// <summary>Profile names; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ProfileNameCompleter))]
    public string[]? Name { get; set; }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        try
        {
            foreach (string pattern in Name ?? new[] { "*" })
            {
                bool found = false;
                var wildcard = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
                foreach (PmpMailProfile profile in ProfileStore.All())
                {
                    if (wildcard.IsMatch(profile.Name))
                    {
                        found = true;
                        WriteObject(profile);
                    }
                }

                if (!found && !WildcardPattern.ContainsWildcardCharacters(pattern))
                {
                    var ex = new PmpMailSetupException("ProfileNotFound", $"There is no profile named '{pattern}' in '{ProfileStore.DirectoryPath}'.", "List profiles with Get-PmpMailProfile.");
                    WriteError(ErrorMapper.ToErrorRecord(ex, pattern));
                }
            }
        }
        catch (PmpMailSetupException ex)
        {
            WriteError(ErrorMapper.ToErrorRecord(ex, Name));
        }
    }
}
